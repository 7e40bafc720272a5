import { sandboxUnavailableReason } from '@triage/tools';

/** The part of a logger this needs: Nest's Logger and pino both fit. */
export interface WarnLogger {
  warn(message: string): unknown;
  log?(message: string): unknown;
  info?(message: string): unknown;
}

/**
 * One clear line at start-up saying whether eu-stack/gdb run inside bubblewrap. Without it they still run
 * with the safe subset (clean environment, no shell, prlimit CPU/AS, output cap, timeout, gdb -nx with
 * auto-load off) but see the host's files and network. Returns whether the sandbox is in use.
 */
export async function logSandboxStatus(logger: WarnLogger, options: { enabled?: boolean } = {}): Promise<boolean> {
  if (options.enabled === false) {
    logger.warn('SANDBOX OFF (TRIAGE_SANDBOX=false): eu-stack/gdb run on untrusted cores without bubblewrap; only timeouts, prlimit CPU/memory and output caps apply');
    return false;
  }
  const reason = await sandboxUnavailableReason();
  if (reason) {
    logger.warn(
      `SANDBOX UNAVAILABLE: ${reason}. eu-stack/gdb run on untrusted cores WITHOUT bubblewrap (they can read host files and reach the network); ` +
        'only timeouts, prlimit CPU/memory and output caps apply. Install bubblewrap and allow unprivileged user namespaces.',
    );
    return false;
  }
  const line = 'sandbox: eu-stack/gdb run in bubblewrap (no network, read-only core + debuginfo, private /tmp, CPU/memory/output limits)';
  if (logger.log) logger.log(line);
  else if (logger.info) logger.info(line);
  return true;
}
