import { constants } from 'node:os';

export const SIGABRT = constants.signals.SIGABRT;

// Numbers with two names: the kernel and gdb print the first of each pair.
const ALIASES = new Set(['SIGIOT', 'SIGPOLL', 'SIGUNUSED']);

const names = new Map<number, string>(
  Object.entries(constants.signals)
    .filter(([name]) => !ALIASES.has(name))
    .map(([name, num]) => [num, name]),
);

/** SIGSEGV for 11; "SIG42" for numbers without a name (real-time signals). */
export function signalName(signal: number): string {
  return names.get(signal) ?? `SIG${signal}`;
}
