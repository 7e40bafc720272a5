import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..', '..');
export const cliPath = join(repoRoot, 'dist', 'apps', 'cli', 'src', 'main.js');

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
    env: { ...process.env, ...options.env },
    input: options.input,
  });
  if (res.error) throw res.error;
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}
