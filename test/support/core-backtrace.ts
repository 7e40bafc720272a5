/**
 * What abrt would have sent for a real crash: the core_backtrace computed from the full core as satyr
 * does (crash thread first, build_id_offset = pc - module start, function names from the objects' own
 * symbol tables only, unwinding stopped before __libc_start_main), in satyr's JSON and the old text
 * form, and the uReport libreport builds around it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCore } from '@triage/core-dump';
import { parseEuStack } from '@triage/symbolizer';
import type { CrashedCore } from './crashers';

export interface SatyrFrame {
  address: number;
  build_id?: string;
  build_id_offset: number;
  function_name?: string;
  file_name?: string;
}

export interface SatyrBacktrace {
  signal: number;
  executable: string;
  stacktrace: Array<{ crash_thread?: true; frames: SatyrFrame[] }>;
}

export async function satyrBacktrace(c: CrashedCore): Promise<SatyrBacktrace> {
  const core = await openCore(c.core);
  try {
    // No debuginfo path: satyr on the crashing machine sees only the stripped objects' symbol tables.
    const out = execFileSync('eu-stack', ['-b', '-m', '-v', '-n', '256', '--core', c.core], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const { threads } = parseEuStack(out);
    const crashTid = core.crashingThread?.tid;
    const ordered = [...threads.filter((t) => t.tid === crashTid), ...threads.filter((t) => t.tid !== crashTid)];
    const stacktrace = ordered.map((t, i) => {
      const frames: SatyrFrame[] = [];
      for (const f of t.frames) {
        if (f.function?.startsWith('__libc_start_main')) break;
        const pc = BigInt(f.pc);
        const m = core.modules.find((mod) => mod.start <= pc && pc < mod.end);
        const frame: SatyrFrame = { address: Number(pc), build_id_offset: Number(m ? pc - m.start : pc) };
        if (m?.buildId) frame.build_id = m.buildId;
        if (f.function) frame.function_name = f.function;
        if (m) frame.file_name = m.path;
        frames.push(frame);
      }
      return i === 0 ? { crash_thread: true as const, frames } : { frames };
    });
    return { signal: core.siginfo?.signo ?? 0, executable: c.exe, stacktrace };
  } finally {
    await core.close();
  }
}

/** The pre-satyr form: `BUILD_ID 0xOFFSET FUNCTION FILE FINGERPRINT`, crash thread only, `-` for unknown. */
export function textBacktrace(bt: SatyrBacktrace): string {
  const crash = bt.stacktrace.find((t) => t.crash_thread) ?? bt.stacktrace[0];
  return crash.frames.map((f) => `${f.build_id ?? '-'} 0x${f.build_id_offset.toString(16)} ${f.function_name ?? '-'} ${f.file_name ?? '-'} -\n`).join('');
}

/** A uReport as libreport's reporter-ureport builds it (satyr sr_abrt_report_from_dir), version 2. */
export function ureportFor(bt: SatyrBacktrace, component = 'proxy'): Record<string, unknown> {
  return {
    ureport_version: 2,
    reason: `Program ${bt.executable} was terminated by signal ${bt.signal}`,
    reporter: { name: 'satyr', version: '0.43' },
    os: { name: 'debian', version: '12', architecture: 'x86_64', cpe: 'cpe:/o:debian:debian:12' },
    problem: { type: 'core', component, user: { root: false, local: true }, serial: 1, ...bt, stacktrace: bt.stacktrace.filter((t) => t.crash_thread) },
    packages: [{ name: component, epoch: 0, version: '2.4.1', release: '3', architecture: 'x86_64', install_time: 1714552800, package_role: 'affected' }],
  };
}

/** An abrt dump dir as abrt leaves it when it kept no core: core_backtrace and the small files. */
export function dumpDir(parent: string, name: string, files: Record<string, string | Buffer>): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

/** The multipart body reporter-ureport POSTs: one part named `file`, filename `*buffer*`, JSON. */
export function ureportForm(ureport: unknown): FormData {
  const form = new FormData();
  form.append('file', new Blob([JSON.stringify(ureport, null, 4)], { type: 'application/json' }), '*buffer*');
  return form;
}
