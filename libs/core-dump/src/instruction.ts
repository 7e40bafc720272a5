/**
 * The instruction at a faulting pc and the address its memory operand computes to. A general-protection
 * fault (SIGSEGV, si_code SI_KERNEL) comes with address 0: the kernel does not say which pointer was bad,
 * but the instruction and the saved registers do. Decoding is iced-x86's (a complete x86-64 decoder).
 */
import { withFile, isHeader, parseElfHeader, readProgramHeaders, PT_LOAD } from './elf';
import type { CoreDump } from './types';

/** The longest x86 instruction. */
const MAX_INSTRUCTION = 15;

export interface DecodedFault {
  /** AT&T syntax, as gdb and objdump print it. */
  text: string;
  pc: bigint;
  memory?: { operand: string; address: bigint; canonical: boolean; registers: Array<{ name: string; value: bigint }> };
  privileged: boolean;
}

type Iced = typeof import('iced-x86');
let iced: Iced | undefined;
/** Loaded on first use: the WebAssembly module costs a few milliseconds, and most crashes never need it. */
export function loadIced(): Iced {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  iced ??= require('iced-x86') as Iced;
  return iced;
}

/** x86-64 virtual addresses are 48 bits sign-extended: bits 63..47 all equal. */
export function isCanonical(address: bigint): boolean {
  const top = address >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}

/**
 * Decodes the x86-64 instruction in `bytes` at `pc` and, when it has a memory operand, computes its
 * address from `registers` (named as NT_PRSTATUS names them: rax, rdi, fs_base, ...). Undefined when
 * the bytes do not decode.
 */
export function decodeFaultingInstruction(bytes: Uint8Array, pc: bigint, registers: Record<string, bigint>): DecodedFault | undefined {
  const x = loadIced();
  const decoder = new x.Decoder(64, bytes, x.DecoderOptions.None);
  const formatter = new x.Formatter(x.FormatterSyntax.Gas);
  try {
    decoder.ip = pc;
    const ins = decoder.decode();
    try {
      if (ins.isInvalid) return undefined;
      const text = formatter.format(ins);
      const out: DecodedFault = { text, pc, privileged: privileged(x, ins) };
      const hasMemory = Array.from({ length: ins.opCount }, (_, k) => ins.opKind(k)).includes(x.OpKind.Memory);
      if (hasMemory) {
        const memory = memoryOperand(x, ins, registers);
        if (memory) out.memory = memory;
      }
      return out;
    } finally {
      ins.free();
    }
  } finally {
    decoder.free();
    formatter.free();
  }
}

function privileged(x: Iced, ins: InstanceType<Iced['Instruction']>): boolean {
  const info = x.CodeExt.opCode(ins.code);
  try {
    return info.isPrivileged;
  } finally {
    info.free();
  }
}

function regName(x: Iced, r: number): string {
  return x.Register[r].toLowerCase();
}

/** base + index*scale + displacement (+ fs/gs base), or undefined when a register it needs is unknown. */
function memoryOperand(x: Iced, ins: InstanceType<Iced['Instruction']>, registers: Record<string, bigint>): DecodedFault['memory'] {
  const base = ins.memoryBase;
  const index = ins.memoryIndex;
  const scale = BigInt(ins.memoryIndexScale);
  const used: Array<{ name: string; value: bigint }> = [];
  const mask = (1n << 64n) - 1n;
  // iced gives RIP-relative operands as their absolute target in the displacement.
  let address = ins.memoryDisplacement;
  if (base !== x.Register.None && base !== x.Register.RIP && base !== x.Register.EIP) {
    const value = registerValue(regName(x, base), registers);
    if (value === undefined) return undefined;
    used.push({ name: regName(x, base), value });
    address += value;
  }
  if (index !== x.Register.None) {
    const value = registerValue(regName(x, index), registers);
    if (value === undefined) return undefined;
    used.push({ name: regName(x, index), value });
    address += value * scale;
  }
  const segment = ins.memorySegment;
  if (segment === x.Register.FS || segment === x.Register.GS) {
    const name = segment === x.Register.FS ? 'fs_base' : 'gs_base';
    const value = registers[name];
    if (value === undefined) return undefined;
    used.push({ name, value });
    address += value;
  }
  address &= mask;
  return { operand: operandText(x, ins, base, index), address, canonical: isCanonical(address), registers: used };
}

/** AT&T spelling of the operand: disp(%base,%index,scale). */
function operandText(x: Iced, ins: InstanceType<Iced['Instruction']>, base: number, index: number): string {
  const parts: string[] = [];
  const ripRelative = base === x.Register.RIP || base === x.Register.EIP;
  const disp = ins.memoryDisplacement;
  if (ripRelative) return `0x${(disp & ((1n << 64n) - 1n)).toString(16)}(%rip)`;
  if (base !== x.Register.None) parts.push(`%${regName(x, base)}`);
  if (index !== x.Register.None) parts.push(`%${regName(x, index)}`, String(ins.memoryIndexScale));
  const d = disp === 0n && parts.length > 0 ? '' : disp < 0n ? `-0x${(-disp).toString(16)}` : `0x${disp.toString(16)}`;
  const seg = ins.memorySegment === x.Register.FS ? '%fs:' : ins.memorySegment === x.Register.GS ? '%gs:' : '';
  return parts.length > 0 ? `${seg}${d}(${parts.join(',')})` : `${seg}${d}`;
}

/** 64-bit registers by name; 32/16/8-bit ones as the low part of theirs (eax of rax, r8d of r8). */
function registerValue(name: string, registers: Record<string, bigint>): bigint | undefined {
  if (registers[name] !== undefined) return registers[name];
  const legacy = /^e([a-z]{2})$/.exec(name);
  if (legacy && registers[`r${legacy[1]}`] !== undefined) return registers[`r${legacy[1]}`] & 0xffffffffn;
  const numbered = /^(r\d+)d$/.exec(name);
  if (numbered && registers[numbered[1]] !== undefined) return registers[numbered[1]] & 0xffffffffn;
  return undefined;
}

/**
 * The instruction bytes at `pc`: from the core when the page was dumped, else from the module's file
 * (found by build-id through `objectFile`, never at a path the core names), through its PT_LOAD table.
 */
export async function readInstructionBytes(core: CoreDump, pc: bigint, objectFile: (buildId: string) => string | undefined): Promise<Buffer | undefined> {
  const inCore = await core.readMemory(pc, MAX_INSTRUCTION);
  if (inCore) return inCore;
  const module = core.modules.find((m) => m.start <= pc && pc < m.end);
  const file = module?.buildId ? objectFile(module.buildId) : undefined;
  if (!module || !file) return undefined;
  const vaddr = pc - module.loadBias;
  return withFile(file, async (src) => {
    const h = parseElfHeader((await src(0n, 64)) ?? Buffer.alloc(0));
    if (!isHeader(h)) return undefined;
    const load = ((await readProgramHeaders(src, 0n, h)) ?? []).find((p) => p.type === PT_LOAD && p.vaddr <= vaddr && vaddr < p.vaddr + p.filesz);
    if (!load) return undefined;
    const b = await src(load.offset + (vaddr - load.vaddr), MAX_INSTRUCTION);
    return b && b.length > 0 ? b : undefined;
  }).catch(() => undefined);
}
