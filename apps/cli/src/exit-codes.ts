/** Exit codes every command uses, so scripts can tell bad input from a broken server. */
export const ExitCode = {
  ok: 0,
  /** The input was refused: not a core, unsupported, corrupt, too large. */
  badInput: 2,
  /** The file does not exist or cannot be read. */
  notFound: 3,
  /** A tool (eu-stack, gdb) or the server failed. */
  failure: 4,
  /** The server could not be reached or answered 5xx after retries. */
  unavailable: 5,
  usage: 64,
} as const;
