import { createHash } from 'node:crypto';
import type { CrashKind, Frame, ModuleEntry, Report } from '@triage/report';

let seq = 0;

/** A hand-made report: `stack` lists the crashing thread's function names from the top ("mod!fn" names the module). */
export function report(stack: string[], options: { kind?: CrashKind; exe?: string; signature?: string; flags?: string[]; missing?: string[] } = {}): Report {
  const exe = options.exe ?? 'server';
  const frames: Frame[] = stack.map((s, index) => {
    const [module, fn] = s.includes('!') ? s.split('!') : [exe, s];
    return { index, pc: `0x${(0x1000 + index).toString(16)}`, module, offset: `0x${(0x100 + index).toString(16)}`, ...(fn ? { function: fn } : {}) };
  });
  const id = (++seq).toString(16).padStart(32, '0');
  const signature = options.signature ?? `${options.kind ?? 'segfault'} | ${stack.slice(0, 5).join(' | ')}`;
  return {
    id,
    signature,
    signatureHash: createHash('sha256').update(signature).digest('hex'),
    createdAt: '2024-03-01T00:00:00.000Z',
    core: { sha256: id.padEnd(64, '0'), size: 1, truncated: false, signal: { number: 11, name: 'SIGSEGV' }, executable: `/usr/bin/${exe}` },
    classification: { kind: options.kind ?? 'segfault', summary: `crash in ${stack[0]}`, flags: options.flags ?? [], blame: { module: exe, function: stack[0] } },
    threads: [{ tid: 1, crashed: true, frames }],
    modules: [
      { name: exe, path: `/usr/bin/${exe}`, start: '0x1000', end: '0x9000', debuginfo: 'found' },
      { name: 'libc.so.6', path: '/lib/libc.so.6', start: '0x10000', end: '0x90000', debuginfo: 'found' },
      ...(options.missing ?? []).map((buildId, i): ModuleEntry => ({ name: `lib${i}.so`, path: `/lib/lib${i}.so`, buildId, start: '0xa0000', end: '0xb0000', debuginfo: 'missing' })),
    ],
    analysis: { tool: 'eu-stack', durationMs: 1, warnings: [] },
  };
}

