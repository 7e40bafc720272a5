/**
 * The .debug_abbrev check that lets the symbolizer skip `addr2line -i` on a .debug file that cannot
 * hold an inlined call: an -O0 build declares no DW_TAG_inlined_subroutine, an -O2 build whose static
 * helper is inlined does, whether the section is plain, SHF_COMPRESSED (zlib-gabi) or .zdebug (zlib-gnu).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inlinedHelpersSource } from '../support/inlined-helpers';
import { abbrevTagsInclude, declaresInlinedSubroutines } from '@triage/core-dump';

const work = mkdtempSync(join(tmpdir(), 'triage-dwarf-abbrev-'));
after(() => rmSync(work, { recursive: true, force: true }));

const source = inlinedHelpersSource(work);

/** The separate .debug file of a build of inl.c at `opt`, its DWARF sections compressed as `compress` says. */
function debugFile(opt: string, compress: 'none' | 'zlib-gabi' | 'zlib-gnu'): string {
  const exe = join(work, `inl${opt}`);
  execFileSync('gcc', [opt, '-g', '-Wl,--build-id', '-o', exe, source]);
  const out = join(work, `inl${opt}.${compress}.debug`);
  execFileSync('objcopy', ['--only-keep-debug', `--compress-debug-sections=${compress}`, exe, out]);
  return out;
}

const sectionNames = (file: string): string => execFileSync('readelf', ['-S', '-W', file], { encoding: 'utf8' });

test('-O0: no abbreviation declares an inlined subroutine', async () => {
  assert.equal(await declaresInlinedSubroutines(debugFile('-O0', 'none')), false);
});

test('-O2 with its helpers inlined: an abbreviation declares DW_TAG_inlined_subroutine', async () => {
  const file = debugFile('-O2', 'none');
  // The build did inline: its DWARF holds the DIE, as readelf shows it.
  assert.match(execFileSync('readelf', ['--debug-dump=info', file], { encoding: 'utf8' }), /DW_TAG_inlined_subroutine/);
  assert.equal(await declaresInlinedSubroutines(file), true);
});

test('SHF_COMPRESSED (zlib) and .zdebug_abbrev give the same answers', async () => {
  for (const compress of ['zlib-gabi', 'zlib-gnu'] as const) {
    const o0 = debugFile('-O0', compress);
    const o2 = debugFile('-O2', compress);
    if (compress === 'zlib-gnu') assert.match(sectionNames(o2), /\.zdebug_abbrev/);
    else assert.match(sectionNames(o2), /\.debug_abbrev .* C /, 'flagged compressed');
    assert.equal(await declaresInlinedSubroutines(o0), false, `${compress} -O0`);
    assert.equal(await declaresInlinedSubroutines(o2), true, `${compress} -O2`);
  }
});

test('not known: no DWARF, not ELF, or a truncated table: the caller must assume inlined calls', async () => {
  const stripped = join(work, 'stripped');
  execFileSync('gcc', ['-O2', '-o', stripped, source]);
  execFileSync('strip', ['--strip-debug', stripped]);
  assert.equal(await declaresInlinedSubroutines(stripped), undefined);
  assert.equal(await declaresInlinedSubroutines(source), undefined);
  assert.equal(await declaresInlinedSubroutines(join(work, 'missing')), undefined);
  // code 1, tag 0x2e (subprogram), children no, one attribute, then the bytes stop mid-list.
  assert.equal(abbrevTagsInclude(Buffer.from([0x01, 0x2e, 0x00, 0x03, 0x08]), 0x1d), undefined);
  // Two tables; the second declares tag 0x1d after a multi-byte (0x81 0x01) code and an implicit const.
  const two = Buffer.from([0x01, 0x11, 0x01, 0x03, 0x08, 0x00, 0x00, 0x00, 0x81, 0x01, 0x34, 0x00, 0x3b, 0x21, 0x7f, 0x00, 0x00, 0x02, 0x1d, 0x00, 0x00, 0x00, 0x00]);
  assert.equal(abbrevTagsInclude(two, 0x1d), true);
  assert.equal(abbrevTagsInclude(two, 0x0b), false);
});
