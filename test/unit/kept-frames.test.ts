/**
 * Kept eu-stack lines on eu-stack's own text (the real runs are in test/e2e/kept-frames.test.ts): a frame
 * is named only by lines kept at its build-id and address for the same activation mark and module name,
 * and a frame whose lines run to pages is never kept.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildIdFile, readKept } from '../../libs/symbolizer/src/kept-file';
import { KeptFrames, type KeptFramesOptions } from '../../libs/symbolizer/src/kept-frames';

const work = mkdtempSync(join(tmpdir(), 'triage-kept-frames-unit-'));
after(() => rmSync(work, { recursive: true, force: true }));

const LIBC = '93ac61ec5a8eb1396f9fbd350e3169a558528a40';
const PROG = '21e72c3d4b434d1055a537180f176e310f8735dd';
// Any file will do for the identity: what is tested is how lines are matched to frames.
const objects = new Map([
  [LIBC, process.execPath],
  [PROG, process.execPath],
]);
const modules = [
  { start: 0x7f544d19b000n, size: 0x1e1f50n, buildId: LIBC },
  { start: 0x564f70cad000n, size: 0x5000n, buildId: PROG },
];
const options = (dir: string | undefined, more: Partial<KeptFramesOptions> = {}): KeptFramesOptions => ({ dir, objects, debuginfo: new Map(), modules, maxFrames: 256, ...more });

function text(frames: Array<{ pc: string; mark: string; name?: string; module: string; id: string; offset: string; source?: string }>): string {
  const lines = ['PID 10429 - core', 'TID 10429:'];
  frames.forEach((f, i) => {
    const start = modules.find((m) => m.buildId === f.id)?.start ?? 0n;
    lines.push(`#${String(i).padEnd(2)} 0x${f.pc}${f.mark}${f.name ? ` ${f.name}` : ''} - ${f.module}`, `    [${f.id}]@0x${start.toString(16)}+0x${f.offset}`);
    if (f.source) lines.push(`    ${f.source}`);
  });
  return `${lines.join('\n')}\n`;
}

const named = [
  { pc: '00007f544d225eec', mark: '    ', name: '__pthread_kill_implementation', module: 'libc.so.6', id: LIBC, offset: '8aeec', source: './nptl/pthread_kill.c:44:76' },
  { pc: '0000564f70cae34d', mark: ' - 1', name: 'give_up', module: 'toucher', id: PROG, offset: '134c', source: '/src/toucher.c:34:3' },
];
const unnamed = named.map(({ name: _name, source: _source, ...rest }) => rest);

test('a frame is named from the lines kept at its build-id and address, with the same mark and module', async () => {
  const dir = mkdtempSync(join(work, 'dir-'));
  await new KeptFrames(options(dir)).keep(text(named), '');
  const kept = () => new KeptFrames(options(dir));
  assert.equal(await kept().name(text(unnamed), ''), text(named));
  // The same address under another module name (a copy of the program elsewhere): not this answer.
  assert.equal(await kept().name(text(unnamed.map((f) => (f.id === PROG ? { ...f, module: 'renamed' } : f))), ''), undefined);
  // The same address as an activation (a signal frame's pc) where a return address was named.
  assert.equal(await kept().name(text(unnamed.map((f) => (f.id === PROG ? { ...f, mark: '    ' } : f))), ''), undefined);
  // An address never named.
  assert.equal(await kept().name(text(unnamed.map((f) => (f.id === PROG ? { ...f, offset: '1350' } : f))), ''), undefined);
  // A stack eu-stack cut at its frame limit, spelled as in the sandbox.
  assert.equal(await kept().name(text(unnamed), '/usr/bin/eu-stack: tid 10429: shown max number of frames (256, use -n 0 for unlimited)\n'), undefined);
});

test('a frame whose lines run to pages is not kept, in a directory or in the process', async () => {
  const long = named.map((f) => (f.id === PROG ? { ...f, name: `templated<${'x'.repeat(9000)}>` } : f));
  for (const dir of [mkdtempSync(join(work, 'dir-')), undefined]) {
    await new KeptFrames(options(dir)).keep(text(long), '');
    const kept = new KeptFrames(options(dir));
    assert.equal(await kept.name(text(unnamed), ''), undefined, `kept ${dir ?? 'in the process'}`);
    // The libc frame alone is kept.
    assert.equal(await kept.name(text(unnamed.filter((f) => f.id === LIBC)), ''), text(named.filter((f) => f.id === LIBC)));
  }
});

test('lines are kept only for the module the frame lies in: a name cannot print a build-id line for another', async () => {
  const dir = mkdtempSync(join(work, 'dir-'));
  // A name with newlines in it (a crafted object's symbol) prints what looks like a libc frame's lines
  // under the program's frame: its pc is the program's, so nothing is kept for libc at that offset.
  const crafted = [
    'PID 10429 - core',
    'TID 10429:',
    '#0  0x0000564f70cae34d - 1 evil - libc.so.6',
    `    [${LIBC}]@0x7f544d19b000+0x1234`,
    '    junk - toucher',
    '',
  ].join('\n');
  await new KeptFrames(options(dir)).keep(crafted, '');
  const victim = text([{ pc: '00007f544d19c235', mark: ' - 1', module: 'libc.so.6', id: LIBC, offset: '1234' }]);
  assert.equal(await new KeptFrames(options(dir)).name(victim, ''), undefined);
  // The same lines where the pc is libc's own are kept.
  await new KeptFrames(options(dir)).keep(crafted.replace('0x0000564f70cae34d', '0x00007f544d19c235'), '');
  assert.match((await new KeptFrames(options(dir)).name(victim, '')) ?? '', / - 1 evil - libc\.so\.6/);
});

test("a rebuilt stack as long as eu-stack's frame limit is left to the named run, which counts inlined calls too", async () => {
  const dir = mkdtempSync(join(work, 'dir-'));
  const chain = [
    { ...named[1], name: 'inlined_helper', source: '/src/toucher.c:20:5' },
    { ...named[1], source: '/src/toucher.c:34:3' },
  ];
  const withChain = [named[0], ...chain];
  await new KeptFrames(options(dir)).keep(text(withChain), '');
  assert.equal(await new KeptFrames(options(dir, { maxFrames: 4 })).name(text(unnamed), ''), text(withChain));
  assert.equal(await new KeptFrames(options(dir, { maxFrames: 3 })).name(text(unnamed), ''), undefined);
});

test('a worker (no cache directory) keeps lines only for a build-id whose object was found, not from debuginfo alone', async () => {
  const onlyDebuginfo = { objects: new Map(), debuginfo: new Map([[LIBC, process.execPath], [PROG, process.execPath]]) };
  await new KeptFrames(options(undefined, onlyDebuginfo)).keep(text(named), '');
  assert.equal(await new KeptFrames(options(undefined, onlyDebuginfo)).name(text(unnamed), ''), undefined);
  const dir = mkdtempSync(join(work, 'dir-'));
  await new KeptFrames(options(dir, onlyDebuginfo)).keep(text(named), '');
  assert.equal(await new KeptFrames(options(dir, onlyDebuginfo)).name(text(unnamed), ''), text(named), 'the user\'s own cache: a -g build is its debuginfo');
});

test('readKept: a regular file of a bounded size only; a FIFO, a link or an oversized file is none, and nothing blocks', () => {
  const dir = join(work, 'read-kept');
  mkdirSync(dir, { recursive: true });
  const id = (n: number): string => n.toString(16).padStart(40, '0');
  writeFileSync(buildIdFile(dir, id(1)), '{"identity":"x","lines":[]}');
  assert.equal(readKept(dir, id(1)), '{"identity":"x","lines":[]}');
  assert.equal(readKept(dir, id(2)), undefined);
  // Planted where a cache dir others can write would let them: read synchronously, each would hold the thread.
  execFileSync('mkfifo', [buildIdFile(dir, id(3))]);
  assert.equal(readKept(dir, id(3)), undefined);
  symlinkSync('/dev/zero', buildIdFile(dir, id(4)));
  assert.equal(readKept(dir, id(4)), undefined);
  symlinkSync(buildIdFile(dir, id(1)), buildIdFile(dir, id(5)));
  assert.equal(readKept(dir, id(5)), undefined);
  writeFileSync(buildIdFile(dir, id(6)), '');
  truncateSync(buildIdFile(dir, id(6)), 17 * 1024 * 1024);
  assert.equal(readKept(dir, id(6)), undefined);
  mkdirSync(buildIdFile(dir, id(7)));
  assert.equal(readKept(dir, id(7)), undefined);
});
