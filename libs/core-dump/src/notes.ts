/** Decoders for the Linux core notes (NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE). */
import { EM_386, EM_AARCH64, EM_X86_64, type Layout, type Note } from './elf';
import type { CorePsInfo, CoreSigInfo, CoreThread, MappedFile } from './types';

export const NT_PRSTATUS = 1;
export const NT_PRPSINFO = 3;
export const NT_AUXV = 6;
export const NT_SIGINFO = 0x53494749;
export const NT_FILE = 0x46494c45;

const X86_64_REGS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
];
const AARCH64_REGS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate'];
const I386_REGS = ['ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'eax', 'ds', 'es', 'fs', 'gs', 'orig_eax', 'eip', 'cs', 'eflags', 'esp', 'ss'];

interface RegisterSet {
  names: string[];
  pc: string;
  sp: string;
}

function registerSet(machine: number): RegisterSet | undefined {
  switch (machine) {
    case EM_X86_64:
      return { names: X86_64_REGS, pc: 'rip', sp: 'rsp' };
    case EM_AARCH64:
      return { names: AARCH64_REGS, pc: 'pc', sp: 'sp' };
    case EM_386:
      return { names: I386_REGS, pc: 'eip', sp: 'esp' };
    default:
      return undefined;
  }
}

/**
 * struct elf_prstatus: elf_siginfo (12 bytes), pr_cursig (short) at 12, then sigpend/sighold
 * (one word each), pid, ppid, pgrp, sid, four timevals (two words each), then pr_reg.
 */
export function decodePrStatus(l: Layout, machine: number, d: Buffer): CoreThread | undefined {
  const w = l.wordSize;
  const pidOff = 16 + 2 * w;
  const regOff = pidOff + 16 + 8 * w;
  if (d.length < pidOff + 4) return undefined;
  const registers: Record<string, bigint> = {};
  const set = registerSet(machine);
  if (set && d.length >= regOff + set.names.length * w) {
    set.names.forEach((name, i) => (registers[name] = l.word(d, regOff + i * w)));
  }
  return {
    tid: l.i32(d, pidOff),
    signal: l.u16(d, 12),
    registers,
    pc: set ? (registers[set.pc] ?? 0n) : 0n,
    sp: set ? (registers[set.sp] ?? 0n) : 0n,
  };
}

/**
 * struct elf_prpsinfo. 64-bit: state, sname, zomb, nice, pad, pr_flag (8), then uid, gid (u32),
 * pid, ppid, pgrp, sid, fname[16], psargs[80]. i386: pr_flag is 4 bytes and uid/gid are u16.
 */
export function decodePrPsInfo(l: Layout, d: Buffer): CorePsInfo | undefined {
  const narrowIds = !l.is64;
  const idOff = l.is64 ? 16 : 8;
  const pidOff = narrowIds ? idOff + 4 : idOff + 8;
  const fnameOff = pidOff + 16;
  if (d.length < fnameOff + 16 + 80) return undefined;
  return {
    uid: narrowIds ? l.u16(d, idOff) : l.u32(d, idOff),
    gid: narrowIds ? l.u16(d, idOff + 2) : l.u32(d, idOff + 4),
    pid: l.i32(d, pidOff),
    ppid: l.i32(d, pidOff + 4),
    fname: cString(d.subarray(fnameOff, fnameOff + 16)),
    args: cString(d.subarray(fnameOff + 16, fnameOff + 96)).trimEnd(),
  };
}

const FAULT_SIGNALS = new Set([4, 7, 8, 11]); // SIGILL, SIGBUS, SIGFPE, SIGSEGV

/** siginfo_t: signo, errno, code, then (after padding to a word) the union. */
export function decodeSigInfo(l: Layout, d: Buffer): CoreSigInfo | undefined {
  const unionOff = l.is64 ? 16 : 12;
  if (d.length < unionOff + l.wordSize) return undefined;
  const info: CoreSigInfo = { signo: l.i32(d, 0), errno: l.i32(d, 4), code: l.i32(d, 8) };
  if (FAULT_SIGNALS.has(info.signo) && info.code > 0) info.faultAddress = l.word(d, unionOff);
  // SI_USER (0), SI_TKILL (-6) and the other non-positive codes come from a process, which the union names.
  if (info.code <= 0) info.senderPid = l.i32(d, unionOff);
  return info;
}

export function decodeAuxv(l: Layout, d: Buffer): Map<number, bigint> {
  const auxv = new Map<number, bigint>();
  const w = l.wordSize;
  for (let off = 0; off + 2 * w <= d.length; off += 2 * w) {
    const type = Number(l.word(d, off));
    if (type === 0) break;
    auxv.set(type, l.word(d, off + w));
  }
  return auxv;
}

/** Why a core with a malformed NT_FILE is refused, by openCore and, at upload, by the streaming collector alike. */
export const BAD_FILE_NOTE = 'malformed NT_FILE note: its entry count does not fit its size';

/** Why a core whose notes cannot be parsed is refused (both readers). */
export function malformedNotes(offset: bigint): string {
  return `malformed notes at offset ${offset}: a note runs past the end of its segment`;
}

/** NT_FILE: count, page_size, count (start, end, pgoff) triples, then count NUL-terminated names. */
export function decodeFileNote(l: Layout, d: Buffer): MappedFile[] | undefined {
  const w = l.wordSize;
  if (d.length < 2 * w) return undefined;
  const count = l.word(d, 0);
  const pageSize = l.word(d, w);
  if (count > BigInt(Math.floor((d.length - 2 * w) / (3 * w)))) return undefined;
  const n = Number(count);
  const files: MappedFile[] = [];
  let nameOff = 2 * w + n * 3 * w;
  for (let i = 0; i < n; i++) {
    const base = 2 * w + i * 3 * w;
    const nul = d.indexOf(0, nameOff);
    const end = nul < 0 ? d.length : nul;
    files.push({
      start: l.word(d, base),
      end: l.word(d, base + w),
      fileOffset: l.word(d, base + 2 * w) * pageSize,
      path: d.subarray(nameOff, end).toString('utf8'),
    });
    nameOff = end + 1;
  }
  return files;
}

export function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** What the "CORE" notes of a core say, gathered over all its PT_NOTE segments. */
export interface CoreNotes {
  threads: CoreThread[];
  psinfo?: CorePsInfo;
  siginfo?: CoreSigInfo;
  auxv: Map<number, bigint>;
  files: MappedFile[];
  /** Owner names of every note seen ("CORE", "LINUX", "GDB"): gcore's "GDB" note tells a snapshot from a crash. */
  noteOwners: string[];
}

export function emptyCoreNotes(): CoreNotes {
  return { threads: [], auxv: new Map(), files: [], noteOwners: [] };
}

/**
 * Decodes one PT_NOTE segment's notes into `into` (pure: shared by openCore, which reads them by offset,
 * and the streaming collector, which sees them pass). Returns 'bad-file-note' when NT_FILE is malformed.
 */
export function collectCoreNotes(l: Layout, machine: number, notes: Note[], into: CoreNotes): 'bad-file-note' | undefined {
  for (const n of notes) {
    if (!into.noteOwners.includes(n.name)) into.noteOwners.push(n.name);
    // Notes named "LINUX" reuse small type numbers (NT_PRXFPREG, ...): only "CORE" ones are decoded by type.
    if (n.name !== 'CORE') continue;
    switch (n.type) {
      case NT_PRSTATUS: {
        const t = decodePrStatus(l, machine, n.desc);
        if (t) into.threads.push(t);
        break;
      }
      case NT_PRPSINFO:
        into.psinfo ??= decodePrPsInfo(l, n.desc);
        break;
      case NT_SIGINFO:
        // The first NT_SIGINFO belongs to the first (crashing) thread.
        into.siginfo ??= decodeSigInfo(l, n.desc);
        break;
      case NT_AUXV:
        if (into.auxv.size === 0) into.auxv = decodeAuxv(l, n.desc);
        break;
      case NT_FILE: {
        const files = decodeFileNote(l, n.desc);
        if (!files) return 'bad-file-note';
        into.files = files;
        break;
      }
    }
  }
  return undefined;
}
