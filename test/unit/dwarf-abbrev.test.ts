/**
 * The .debug_abbrev check that says whether eu-stack may have printed a file's inline chains as one
 * frame (elfutils does not follow an inlined call's abstract origin out of its unit): an LTO build's
 * origins are in other units (yes), an -O2 build without LTO declares inlined calls whose origins are
 * in their own unit (no), an -O0 build none (no); the same whether the section is plain, SHF_COMPRESSED
 * (zlib-gabi) or .zdebug (zlib-gnu). Each answer is checked against eu-addr2line and addr2line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inlinedHelpersSource } from '../support/inlined-helpers';
import { elfutilsCollapsesInlineChains, scanAbbrev } from '@triage/core-dump';

const work = mkdtempSync(join(tmpdir(), 'triage-dwarf-abbrev-'));
after(() => rmSync(work, { recursive: true, force: true }));

const source = inlinedHelpersSource(work);

/** The separate .debug file of a build of inl.c with `flags`, its DWARF sections compressed as `compress` says. */
function debugFile(flags: string[], compress: 'none' | 'zlib-gabi' | 'zlib-gnu'): { exe: string; debug: string } {
  const tag = flags.join('');
  const exe = join(work, `inl${tag}`);
  execFileSync('gcc', [...flags, '-g', '-Wl,--build-id', '-o', exe, source]);
  const debug = join(work, `inl${tag}.${compress}.debug`);
  execFileSync('objcopy', ['--only-keep-debug', `--compress-debug-sections=${compress}`, exe, debug]);
  return { exe, debug };
}

const sectionNames = (file: string): string => execFileSync('readelf', ['-S', '-W', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** Per address of main() where addr2line -i gives a chain, how many frames each tool prints there. */
function chainsInMain(b: { exe: string; debug: string }): Array<{ binutils: number; elfutils: number }> {
  const line = execFileSync('nm', ['-S', b.exe], { encoding: 'utf8' }).split('\n').find((l) => / T main$/.test(l));
  assert.ok(line, 'main in the symbol table');
  const [start, size] = line.split(' ').slice(0, 2).map((x) => Number.parseInt(x, 16));
  const addresses = Array.from({ length: size }, (_, i) => `0x${(start + i).toString(16)}`);
  // One run of each tool for every address: -a starts each address's answer with the address itself.
  const framesPer = (tool: string): number[] =>
    execFileSync(tool, ['-a', '-i', '-f', '-e', b.debug, ...addresses], { encoding: 'utf8' })
      .split(/^0x[0-9a-f]+$/m)
      .slice(1)
      .map((answer) => answer.trim().split('\n').length / 2);
  const binutils = framesPer('addr2line');
  const elfutils = framesPer('eu-addr2line');
  assert.equal(binutils.length, size);
  assert.equal(elfutils.length, size);
  const out = binutils.flatMap((n, i) => (n >= 2 ? [{ binutils: n, elfutils: elfutils[i] }] : []));
  assert.ok(out.length > 0, 'the build inlines into main');
  return out;
}

test('-O0: no inlined call, nothing for elfutils to collapse', async () => {
  assert.equal(await elfutilsCollapsesInlineChains(debugFile(['-O0'], 'none').debug), false);
});

test('-O2 without LTO: inlined calls whose origins are in their own unit; elfutils prints each chain', async () => {
  const b = debugFile(['-O2'], 'none');
  assert.match(execFileSync('readelf', ['--debug-dump=info', b.debug], { encoding: 'utf8' }), /DW_TAG_inlined_subroutine/);
  assert.ok(chainsInMain(b).every((c) => c.elfutils === c.binutils), 'eu-addr2line gives the whole chain');
  assert.equal(await elfutilsCollapsesInlineChains(b.debug), false);
});

test('-O2 -flto: origins in other units; elfutils prints a chain as one frame', async () => {
  const b = debugFile(['-O2', '-flto'], 'none');
  assert.ok(chainsInMain(b).every((c) => c.elfutils === 1), 'eu-addr2line collapses every chain');
  assert.equal(await elfutilsCollapsesInlineChains(b.debug), true);
  // The same with the DWARF left in the program.
  assert.equal(await elfutilsCollapsesInlineChains(b.exe), true);
});

test('SHF_COMPRESSED (zlib) and .zdebug_abbrev give the same answers', async () => {
  for (const compress of ['zlib-gabi', 'zlib-gnu'] as const) {
    const o0 = debugFile(['-O0'], compress).debug;
    const o2 = debugFile(['-O2'], compress).debug;
    const lto = debugFile(['-O2', '-flto'], compress).debug;
    if (compress === 'zlib-gnu') assert.match(sectionNames(o2), /\.zdebug_abbrev/);
    else assert.match(sectionNames(o2), /\.debug_abbrev .* C /, 'flagged compressed');
    assert.equal(await elfutilsCollapsesInlineChains(o0), false, `${compress} -O0`);
    assert.equal(await elfutilsCollapsesInlineChains(o2), false, `${compress} -O2`);
    assert.equal(await elfutilsCollapsesInlineChains(lto), true, `${compress} -O2 -flto`);
  }
});

test("Debian's files: python3.11-dbg (built with LTO) collapses, from its section's head; libc6-dbg does not", async () => {
  const debugOf = (program: string): string => {
    const id = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', program], { encoding: 'utf8' }))?.[1] ?? '';
    return `/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
  };
  const python = debugOf('/usr/bin/python3.11');
  const libc = debugOf(realpathSync('/lib/x86_64-linux-gnu/libc.so.6'));
  // Both larger than the head read first (16 KiB of the compressed section).
  for (const file of [python, libc]) {
    const fields = sectionNames(file).split('\n').find((l) => l.includes(' .debug_abbrev '))?.trim().split(/\s+/) ?? [];
    // Name, type, address, offset, size.
    const size = Number.parseInt(fields[fields.indexOf('.debug_abbrev') + 4] ?? '0', 16);
    assert.ok(size > 16 * 1024, `${file}: .debug_abbrev is ${size} bytes`);
  }
  assert.equal(await elfutilsCollapsesInlineChains(python), true);
  assert.equal(await elfutilsCollapsesInlineChains(libc), false);
});

test('no DWARF: nothing to collapse; not ELF or missing: not known, the caller must assume collapsed chains', async () => {
  const stripped = join(work, 'stripped');
  execFileSync('gcc', ['-O2', '-o', stripped, source]);
  execFileSync('strip', ['--strip-debug', stripped]);
  assert.equal(await elfutilsCollapsesInlineChains(stripped), false);
  assert.equal(await elfutilsCollapsesInlineChains(source), undefined);
  assert.equal(await elfutilsCollapsesInlineChains(join(work, 'missing')), undefined);
});

test('the table walk: declarations across tables, implicit consts, forms out of the unit, a cut', () => {
  // code 1, tag 0x2e (subprogram), children no, one attribute, then the bytes stop mid-list.
  assert.deepEqual(scanAbbrev(Buffer.from([0x01, 0x2e, 0x00, 0x03, 0x08])), { inlinedCalls: false, originsOutOfUnit: false, complete: false });
  // Two tables; the second declares tag 0x1d after a multi-byte (0x81 0x01) code and an implicit const,
  // its abstract origin (0x31) a DW_FORM_ref4 (0x13): in its unit.
  const own = [0x01, 0x11, 0x01, 0x03, 0x08, 0x00, 0x00, 0x00, 0x81, 0x01, 0x34, 0x00, 0x3b, 0x21, 0x7f, 0x00, 0x00, 0x02, 0x1d, 0x00, 0x31, 0x13, 0x00, 0x00, 0x00];
  assert.deepEqual(scanAbbrev(Buffer.from(own)), { inlinedCalls: true, originsOutOfUnit: false, complete: true });
  // DW_FORM_ref_addr (0x10), DW_FORM_GNU_ref_alt (0x1f20: 0xa0 0x3e) and DW_FORM_indirect (0x16) may point out of the unit.
  for (const form of [[0x10], [0xa0, 0x3e], [0x16]]) {
    const out = Buffer.from([0x01, 0x2e, 0x00, 0x31, ...form, 0x00, 0x00, 0x00]);
    assert.deepEqual(scanAbbrev(out), { inlinedCalls: false, originsOutOfUnit: true, complete: true }, `form ${form.join(' ')}`);
  }
});
