/**
 * Preloaded (-r) into a server under test run with --expose-gc: collects garbage every 250 ms, so a FileHandle
 * left open becomes "closed on garbage collection" (DEP0137) while the test still watches the log.
 */
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('gc-often needs node --expose-gc');
setInterval(collect, 250).unref();
