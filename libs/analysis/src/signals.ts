import { constants } from 'node:os';

export const SIGABRT = constants.signals.SIGABRT;

const names = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** SIGSEGV for 11; "SIG42" for numbers without a name (real-time signals). */
export function signalName(signal: number): string {
  return names.get(signal) ?? `SIG${signal}`;
}
