import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..', '..');
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');

/** Each test file's `triage` runs keep their tool answers in a cache of the file's own, never the user's. */
const testCache = mkdtempSync(join(tmpdir(), 'triage-cli-cache-'));
process.on('exit', () => rmSync(testCache, { recursive: true, force: true }));
const cliEnv = (env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...process.env, TRIAGE_CACHE_DIR: testCache, ...env });

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `triage` command as a user would, with a hard time limit so a hang fails the test. */
export function triage(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const res = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    env: cliEnv(options.env),
    input: options.input,
  });
  if (res.error) throw res.error;
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Runs a command without blocking the event loop: the API under test lives in this process. */
export function runAsync(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  onStderr?: (soFar: string) => void,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}


/** The built `triage` command without blocking the event loop (for tests that run the API in-process). */
export function triageAsync(args: string[], env: Record<string, string> = {}): ReturnType<typeof runAsync> {
  return runAsync(process.execPath, [cliPath, ...args], { TRIAGE_CACHE_DIR: testCache, ...env });
}
