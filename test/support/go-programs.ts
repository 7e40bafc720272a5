/**
 * Go programs built with Debian's golang-go inside the test cache (its build cache and GOPATH there
 * too, no module download: GO111MODULE=off). `cgo`: linked with runtime/cgo and glibc. `linker`:
 * 'external' links with gcc (a GNU build-id), 'internal' is a plain `go build` (Go's own linker: only
 * a Go build ID). `stripped`: -ldflags='-s -w'.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './crashers';

export function buildGo(name: string, source: string, options: { cgo: boolean; linker: 'external' | 'internal'; stripped?: boolean }): string {
  const suffix = `${options.linker === 'internal' ? '-internal' : ''}${options.stripped ? '-stripped' : ''}`;
  const dir = join(cacheDir, 'debian', 'build', `${name}-go1-${options.cgo ? 'cgo' : 'purego'}${suffix}`);
  const exe = join(dir, name);
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.go'), source);
    const env = { ...process.env, GO111MODULE: 'off', GOCACHE: join(cacheDir, 'go', 'cache'), GOPATH: join(cacheDir, 'go', 'path'), GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: options.cgo ? '1' : '0' };
    // -s -w: no symbol table, no DWARF (the usual size-trimmed release build).
    const ldflags = [...(options.linker === 'external' ? ['-linkmode=external'] : []), ...(options.stripped ? ['-s', '-w'] : [])];
    const flags = ldflags.length ? [`-ldflags=${ldflags.join(' ')}`] : [];
    execFileSync('/usr/bin/go', ['build', ...flags, '-o', `${exe}.tmp`, 'main.go'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(`${exe}.tmp`, exe);
  }
  return exe;
}

/** The Go build ID as Go's own tool reads it from the file: what triage must find in the core. */
export function goBuildIdOf(exe: string): string {
  return execFileSync('/usr/bin/go', ['tool', 'buildid', exe], { encoding: 'utf8' }).trim();
}

/** Goroutines writing one map with no lock: the runtime's map code finds the race and calls fatal() ("concurrent map writes"). */
export const GO_MAP_WRITES = `package main

import "strconv"

var seen = map[string]int{}

//go:noinline
func record(key string) {
	seen[key]++
}

func main() {
	for w := 0; w < 4; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				record(strconv.Itoa(w*1000 + i%1000))
			}
		}(w)
	}
	select {}
}
`;
