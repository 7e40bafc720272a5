import { setTimeout as sleep } from 'node:timers/promises';
import type { Report } from '@triage/report';
import { watchEvents } from './commands/watch';
import { getJson, ServerError, UnreachableError, type RetryPolicy, type ServerOptions } from './http-client';

/** The part of the service's 202 answer a wait needs. */
export interface AcceptedCore {
  id: string;
  status: string;
  statusUrl: string;
  reportUrl: string;
}

interface CoreStatusAnswer {
  status: 'queued' | 'analyzing' | 'done' | 'failed';
  reason?: string;
}

/** How a wait ends: the report is stored, the analysis failed for good, or asking failed. */
type Outcome = { state: 'done' } | { state: 'failed'; reason?: string } | { error: unknown };

function outcomeOf(status: CoreStatusAnswer): Outcome | undefined {
  if (status.status === 'done') return { state: 'done' };
  if (status.status === 'failed') return { state: 'failed', reason: status.reason };
  return undefined;
}

async function reportOf(outcome: Outcome, accepted: AcceptedCore, server: ServerOptions, policy: RetryPolicy): Promise<Report> {
  if ('error' in outcome) throw outcome.error;
  if (outcome.state === 'failed') throw new ServerError(422, `the analysis failed: ${outcome.reason ?? 'no reason given'}`);
  return (await getJson<Report>(accepted.reportUrl, server, policy)).body;
}

function timedOut(timeoutMs: number, status: string): UnreachableError {
  return new UnreachableError(`no report after ${timeoutMs / 1000} s (status ${status})`);
}

/**
 * Waits for the analysis of an accepted core and fetches its report. It wakes on the event stream, so the
 * report is fetched as soon as the worker announces it; where the stream cannot be had (a server without
 * /v1/events, a broken connection) it polls the status as before.
 */
export async function waitForReport(accepted: AcceptedCore, server: ServerOptions, timeoutMs: number, policy: RetryPolicy): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  return (await waitOnEvents(accepted, server, deadline, timeoutMs, policy)) ?? pollForReport(accepted, server, deadline, timeoutMs, policy);
}

/** While the stream is open, the status is also read this often: an end that came with no event is seen. */
const SAFETY_READ_MS = 5_000;

/**
 * Follows `/v1/events?core=ID` and reads the status once each time the stream is (re)connected. That
 * read is what makes the wait race-free without an event id from before the upload: the server fixes
 * the stream's start before it answers, and the worker writes the status before it publishes
 * report-ready or the final analysis-failed. So an end published before the stream (re)opened is in the
 * status read after it, and one published later comes on the stream. It also covers a duplicate upload
 * of a core analysed long ago, whose events are long past. Undefined: the stream could not be used.
 */
async function waitOnEvents(accepted: AcceptedCore, server: ServerOptions, deadline: number, timeoutMs: number, policy: RetryPolicy): Promise<Report | undefined> {
  const controller = new AbortController();
  let outcome: Outcome | undefined;
  let status = accepted.status;
  const end = (o: Outcome): void => {
    outcome ??= o;
    controller.abort();
  };
  const statusReads: Array<Promise<void>> = [];
  let reading = false;
  // Aborted with the stream: once the wait has its end (or its deadline), a read still under way is not waited for.
  const readStatus = (): void => {
    if (reading || controller.signal.aborted) return;
    reading = true;
    statusReads.push(
      getJson<CoreStatusAnswer>(accepted.statusUrl, server, policy, controller.signal)
        .then(
          ({ body }) => {
            status = body.status;
            const o = outcomeOf(body);
            if (o) end(o);
          },
          (error: unknown) => {
            if (!controller.signal.aborted) end({ error });
          },
        )
        .finally(() => (reading = false)),
    );
  };
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  // Not every end comes with an event: a job failed for stalling too often on older workers, or a final
  // failure whose event could not be published (events are best effort). A status read now and then
  // still sees it.
  const safety = setInterval(readStatus, SAFETY_READ_MS);
  let usable = true;
  try {
    await watchEvents({
      server,
      core: accepted.id,
      signal: controller.signal,
      // Any failure of the stream hands the wait to the poll at once, which has retries of its own.
      giveUpAfterMs: 0,
      onConnected: readStatus,
      onEvent: (e) => {
        // An older server ignores ?core= and sends every core's events.
        if (e.coreId !== accepted.id) return;
        if (e.type === 'analysis-started') status = 'analyzing';
        else if (e.type === 'report-ready') end({ state: 'done' });
        else if (e.type === 'analysis-failed' && !e.willRetry) end({ state: 'failed', reason: e.reason });
      },
    });
  } catch {
    usable = false;
  } finally {
    clearTimeout(timer);
    clearInterval(safety);
  }
  await Promise.all(statusReads);
  if (outcome) return reportOf(outcome, accepted, server, policy);
  if (!usable) return undefined;
  throw timedOut(timeoutMs, status);
}

/**
 * Polls the status until the report is there. Most analyses end within a few hundred ms of the 202, so
 * the first polls come fast; then once a second at most, so a long analysis is never seen more than a
 * second late and one waiting client costs the API at most one status read a second.
 */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 1_000;

async function pollForReport(accepted: AcceptedCore, server: ServerOptions, deadline: number, timeoutMs: number, policy: RetryPolicy): Promise<Report> {
  let delay = FIRST_POLL_MS;
  for (;;) {
    const { body: status } = await getJson<CoreStatusAnswer>(accepted.statusUrl, server, policy);
    const outcome = outcomeOf(status);
    if (outcome) return reportOf(outcome, accepted, server, policy);
    if (Date.now() + delay > deadline) throw timedOut(timeoutMs, status.status);
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}
