/**
 * The helper table's Go runtime row on Debian 12's golang-go (Go 1.19): small Go programs crash with
 * GOTRACEBACK=crash, the runtime raises SIGABRT into its own signal handler and the core is written
 * there. The unwinders stop at Go's signal trampoline; triage continues through the kernel's signal
 * frame and the frame-pointer chain, so the fatal error is blamed on the program's code past it.
 * Built with external linking: Go's internal linker writes no GNU build-id into a PT_NOTE (plain
 * `go build` none at all, Go 1.19's `-B` one outside the PT_NOTE), and triage finds files by build-id.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Report } from '@triage/report';
import { triage } from '../support/cli';
import { cacheDir } from '../support/crashers';
import { debianCore } from '../support/debian-programs';

const PROGRAMS = {
  gopanic: `package main

import "os"

//go:noinline
func loadConfig(path string) {
	if _, err := os.Stat(path); err != nil {
		panic("cannot load config " + path)
	}
}

func main() {
	loadConfig("/nonexistent/demo.conf")
}
`,
};

/** go build inside the test cache: its build cache and GOPATH there too, no module download (GO111MODULE=off). */
function buildGo(name: keyof typeof PROGRAMS): string {
  const dir = join(cacheDir, 'debian', 'build', `${name}-go1`);
  const exe = join(dir, name);
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.go'), PROGRAMS[name]);
    const env = { ...process.env, GO111MODULE: 'off', GOCACHE: join(cacheDir, 'go', 'cache'), GOPATH: join(cacheDir, 'go', 'path'), GOFLAGS: '', GOPROXY: 'off' };
    execFileSync('/usr/bin/go', ['build', '-ldflags=-linkmode=external', '-o', `${exe}.tmp`, 'main.go'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(`${exe}.tmp`, exe);
  }
  return exe;
}

function analyzeGo(name: keyof typeof PROGRAMS): Report {
  const { core, stderr } = debianCore(name, [buildGo(name)], { env: { GOTRACEBACK: 'crash' } });
  assert.match(stderr, /^(fatal error|panic): /);
  const r = triage(['analyze', core, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

describe("Go runtime's fatal errors (GOTRACEBACK=crash, Debian's golang-go 1.19)", () => {
  test('an unrecovered panic() is the fatal error of the function that panicked, found past the signal trampoline', () => {
    const r = analyzeGo('gopanic');
    assert.equal(r.core.signal.name, 'SIGABRT');
    assert.equal(r.classification.kind, 'abort');
    assert.deepEqual([r.classification.blame.module, r.classification.blame.function], ['gopanic', 'main.loadConfig']);
    assert.match(r.classification.summary, /^Fatal error reported by main\.loadConfig .*through Go runtime's throw\(\)/);
    assert.equal(r.signature.split(' | ').slice(0, 3).join(' | '), 'abort | main.loadConfig | main.main');
    const crashed = r.threads.find((t) => t.crashed);
    const names = (crashed?.frames ?? []).map((f) => f.function);
    // The unwinder's own part ends at the trampoline; the rest is the interrupted crash: raise, fatalpanic, gopanic, the program.
    assert.ok(names.indexOf('runtime.sigtramp.abi0') < names.indexOf('runtime.fatalpanic'), names.join(' '));
  });
});
