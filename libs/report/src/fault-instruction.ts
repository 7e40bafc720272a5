/** Wording for a fault without an address: what the faulting instruction touched, computed from the registers. */
import type { FaultingInstructionEvidence } from './evidence';
import type { FaultingInstruction } from './model';
import { hex } from './signals';

/** ": the memory operand (%rdi) held the non-canonical pointer 0xdeadbeefdeadbeef", or "" when nothing is known. */
export function generalProtectionDetail(i: FaultingInstructionEvidence | undefined): string {
  if (!i) return '';
  const m = i.memory;
  if (!m) return i.privileged ? `: privileged instruction ${i.text}` : `: ${i.text} touches no memory`;
  const regs = m.registers.map((r) => `%${r.name} = ${hex(r.value)}`).join(', ');
  const single = m.registers.length === 1 && m.registers[0].value === m.address;
  if (!m.canonical) {
    return single
      ? `: the memory operand ${m.operand} held the non-canonical pointer ${hex(m.address)} (${i.text})`
      : `: the memory operand ${m.operand} is the non-canonical address ${hex(m.address)} (${regs}; ${i.text})`;
  }
  return `: ${i.text} accessed ${hex(m.address)} (${regs}), a canonical address: the fault is in how it was accessed (alignment, segment)`;
}

export function faultingInstructionJson(i: FaultingInstructionEvidence): FaultingInstruction {
  const out: FaultingInstruction = { text: i.text, pc: hex(i.pc), privileged: i.privileged };
  if (i.memory) {
    out.memory = {
      operand: i.memory.operand,
      address: hex(i.memory.address),
      canonical: i.memory.canonical,
      registers: i.memory.registers.map((r) => ({ name: r.name, value: hex(r.value) })),
    };
  }
  return out;
}
