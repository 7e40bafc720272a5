/**
 * A stripped library's `.cold` fragments (GCC's home for the abort() after a failed check) have no
 * .dynsym symbol, so the tools print `??` for exactly the frame that aborted. The owner is found from
 * the branches into the fragment; the unstripped build's own `NAME.cold` symbols are the check.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { coldFragmentOwner } from '@triage/core-dump';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { cacheDir } from '../support/crashers';
import { buildC, debianCore } from '../support/debian-programs';

const LIBRARY = `#include <stdlib.h>
#include <string.h>
struct arr { size_t n; int *v; char name[32]; };
/* A static function: no .dynsym symbol once stripped, entered by a call, never a fragment. */
static __attribute__((noinline)) int weight(const struct arr *a, size_t i) { return a->v[i] * (int)i + (int)a->n; }
int arr_sum(const struct arr *a, size_t from, size_t to) {
  if (from > to || to > a->n) abort();
  int s = 0;
  for (size_t i = from; i < to; i++) s += weight(a, i);
  return s;
}
int arr_get(const struct arr *a, size_t i) {
  if (a == NULL) abort();
  if (i >= a->n) abort();
  return a->v[i];
}
void arr_rename(struct arr *a, const char *name) {
  size_t len = strlen(name);
  if (len >= sizeof a->name) abort();
  for (size_t i = 0; i < len; i++) a->name[i] = name[i] == ' ' ? '_' : name[i];
  a->name[len] = 0;
}
`;

/** libarr built -O2 (GCC splits the abort paths into .cold fragments), plus a stripped copy as distributions ship it. */
function buildLibrary(): { dir: string; unstripped: string; stripped: string } {
  const dir = join(cacheDir, 'cold-fragments');
  const unstripped = join(dir, 'libarr-full.so');
  const stripped = join(dir, 'libarr.so');
  if (!existsSync(stripped)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'arr.c'), LIBRARY);
    execFileSync('gcc', ['-O2', '-g', '-shared', '-fPIC', '-Wl,-soname,libarr.so', '-o', unstripped, 'arr.c'], { cwd: dir });
    execFileSync('strip', ['--strip-unneeded', '-o', `${stripped}.tmp`, unstripped]);
    renameSync(`${stripped}.tmp`, stripped);
  }
  return { dir, unstripped, stripped };
}

/** `nm -S` of the unstripped build: each symbol's address and size. */
function symbols(path: string): Array<{ name: string; start: bigint; size: bigint }> {
  return execFileSync('nm', ['-S', path], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[3], start: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2]}`) }));
}

describe("a stripped library's .cold fragments", () => {
  const lib = buildLibrary();

  test('every byte of every fragment is owned by the function the unstripped build names', async () => {
    const all = symbols(lib.unstripped);
    const cold = all.filter((s) => s.name.endsWith('.cold'));
    assert.ok(cold.length >= 3, `gcc -O2 split the abort paths: ${cold.map((s) => s.name).join(', ')}`);
    for (const fragment of cold) {
      for (let at = fragment.start; at < fragment.start + fragment.size; at++) {
        const found = await coldFragmentOwner(lib.stripped, at);
        assert.equal(found?.owner, fragment.name.replace(/\.cold$/, ''), `0x${at.toString(16)} in ${fragment.name}`);
      }
    }
    for (const hot of all.filter((s) => s.name.startsWith('arr_') && !s.name.endsWith('.cold'))) {
      assert.equal(await coldFragmentOwner(lib.stripped, hot.start + 1n), undefined, `${hot.name} is named: no fragment`);
    }
    const weight = all.find((s) => /^weight(\.|$)/.test(s.name));
    assert.ok(weight, 'the static function is in the unstripped build');
    for (let at = weight.start; at < weight.start + weight.size; at++) {
      assert.equal(await coldFragmentOwner(lib.stripped, at), undefined, `0x${at.toString(16)} is in a static function its caller calls, not in a fragment`);
    }
  });

  test('the frame that aborted is named OWNER.cold, blamed, and signed as its owner', () => {
    const exe = buildC(
      'arrx',
      `#include <stddef.h>
struct arr { size_t n; int *v; char name[32]; };
int arr_get(const struct arr *a, size_t i);
static int last(const struct arr *a) { return arr_get(a, a->n); }
int main(void) {
  int v[2] = { 1, 2 };
  struct arr a = { 2, v, "" };
  return last(&a);
}
`,
      { libs: [`-L${lib.dir}`, '-larr', `-Wl,-rpath,${lib.dir}`] },
    );
    const { core } = debianCore('arrx', [exe]);
    const res = triage(['analyze', core, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    const crashing = r.threads.find((t) => t.crashed) ?? r.threads[0];
    const frame = crashing.frames.find((f) => f.module === 'libarr.so');
    assert.equal(frame?.function, 'arr_get.cold', 'eu-stack alone prints ?? here');
    assert.equal(r.classification.kind, 'library-abort');
    assert.equal(r.classification.library?.function, 'arr_get.cold');
    assert.equal(r.classification.library?.enteredFrom?.function, 'last');
    assert.match(r.signature, /library-abort \| arr_get \| last/, 'the fragment signs as its function, as with debuginfo');
  });
});
