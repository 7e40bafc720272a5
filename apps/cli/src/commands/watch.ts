import { setTimeout as sleep } from 'node:timers/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LifecycleEvent } from '@triage/events';
import { exitWithFailure, ExitCode, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { describeNetworkError, notOurRoute, notTriage, serverOptions, UnreachableError, WrongServerError, type ServerOptions } from '../http-client';
import { positiveSeconds, UsageError } from '../options';
import { onOutputClosed } from '../output';

interface WatchFlags {
  server?: string;
  token?: string;
  json?: boolean;
  since?: string;
  giveUpAfter: string;
}

/** How long `triage watch` keeps reconnecting to a server that does not answer before it exits 5. */
export const DEFAULT_GIVE_UP_SECONDS = 60;

/** One Server-Sent Event as the spec defines the fields we use. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Incremental SSE parser: feed it chunks as they arrive, it returns whole events (comments are dropped). */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id?: string;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        this.data = [];
        this.event = '';
        this.id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

function formatTime(iso: string): string {
  return iso.slice(11, 19);
}

/** One line per event, the core id always in the same column so a terminal reads like a table. */
export function eventLine(e: LifecycleEvent): string {
  const head = `${formatTime(e.at)} ${e.type.padEnd(17)} ${e.coreId}`;
  switch (e.type) {
    case 'core-received':
      return `${head} ${e.bytes} bytes via ${e.via}${e.hostname ? ` from ${e.hostname}` : ''}`;
    case 'core-stored':
      return `${head} ${e.duplicate ? 'duplicate' : 'new'} ${e.format}, ${e.status}`;
    case 'analysis-started':
      return `${head} attempt ${e.attempt}`;
    case 'report-ready':
      return `${head} ${e.kind}: ${e.summary} [problem ${e.problemId}]`;
    case 'analysis-failed':
      return `${head} ${e.willRetry ? 'will retry' : 'failed'}: ${e.reason}`;
    case 'problem-new':
      return `${head} NEW problem ${e.problemId} ${e.kind} in ${e.executable}: ${e.signature}`;
    case 'problem-regressed':
      return `${head} REGRESSED problem ${e.problemId} (${e.fixedIn ? `fixed in ${e.fixedIn}, seen in ${e.version}; ` : ''}last seen ${e.previousLastSeen}): ${e.signature}`;
    case 'report-reprocessed':
      return `${head} REPROCESSED ${e.kind}: ${e.summary} [problem ${e.problemId}${e.previousProblemId ? `, was ${e.previousProblemId}` : ''}]`;
  }
}

export interface WatchOptions {
  server: ServerOptions;
  /** Resume after this event id (else: from now). */
  since?: string;
  /** Only this core's events (`?core=`). */
  core?: string;
  onEvent(event: LifecycleEvent): void;
  /** Told about each (re)connection and each disconnect, for a status line on stderr. */
  onStatus?(message: string): void;
  /** Called at each (re)connection once the server has answered: every event published from then on reaches onEvent. */
  onConnected?(): void;
  signal?: AbortSignal;
  /** Longest wait between reconnection attempts. */
  maxBackoffMs?: number;
  /** Give up (UnreachableError) when the server stays unreachable this long; unbounded when not set. */
  giveUpAfterMs?: number;
}

/** Answers that will not get better by retrying: wrong token, no such route. */
export class WatchRefused extends Error {}

function eventsUrl(options: WatchOptions): URL {
  const url = new URL(`${options.server.server}/v1/events`);
  if (options.core) url.searchParams.set('core', options.core);
  return url;
}

function connect(options: WatchOptions, lastId: string | undefined, onMessage: (m: SseMessage) => void, onAlive: () => void = () => undefined): Promise<void> {
  const url = eventsUrl(options);
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (options.server.token) headers.Authorization = `Bearer ${options.server.token}`;
  if (lastId) headers['Last-Event-ID'] = lastId;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers, signal: options.signal });
    // The server sends a heartbeat every 15 s: silence for much longer means a dead connection.
    req.setTimeout(45_000, () => req.destroy(new Error('no data from the server for 45 s')));
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          if (notOurRoute({ status: res.statusCode ?? 0, body })) return reject(notTriage(url, res.statusCode ?? 0));
          const err = new Error(`server answered ${res.statusCode}: ${body.slice(0, 300)}`);
          reject(res.statusCode && res.statusCode < 500 ? new WatchRefused(err.message) : err);
        });
        return;
      }
      options.onStatus?.(`connected to ${url.origin}${lastId ? `, resuming after ${lastId}` : ''}`);
      options.onConnected?.();
      const parser = new SseParser();
      res.setEncoding('utf8');
      onAlive();
      res.on('data', (chunk: string) => {
        onAlive();
        parser.push(chunk).forEach(onMessage);
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.end();
  });
}

/**
 * Follows the event stream until aborted: on any disconnect it reconnects with Last-Event-ID set to
 * the last event it printed, so nothing retained by the server is missed or printed twice.
 */
export async function watchEvents(options: WatchOptions): Promise<void> {
  let lastId = options.since;
  let backoff = 500;
  // When the server was last reachable (or the watch started): an outage is measured from here.
  let lastContact = Date.now();
  while (!options.signal?.aborted) {
    try {
      const alive = () => (lastContact = Date.now());
      await connect(options, lastId, (m) => {
        if (m.event === 'gap') {
          options.onStatus?.(`events were trimmed from the server's retention window: some were missed (${m.data})`);
          return;
        }
        const event = JSON.parse(m.data) as LifecycleEvent;
        lastId = m.id ?? event.id;
        backoff = 500;
        options.onEvent(event);
      }, alive);
      options.onStatus?.('the server closed the stream; reconnecting');
    } catch (err) {
      if (options.signal?.aborted) return;
      if (err instanceof WatchRefused || err instanceof WrongServerError) throw err;
      const url = eventsUrl(options);
      const described = describeNetworkError(err, url);
      if (described.permanent) throw new WrongServerError(`cannot talk to the triage service at ${url.origin}: ${described.reason}`);
      const down = Date.now() - lastContact;
      if (options.giveUpAfterMs !== undefined && down + backoff > options.giveUpAfterMs) {
        throw new UnreachableError(`cannot reach the triage service at ${url.origin}: ${described.reason} (gave up after ${Math.round(down / 1000)} s)`);
      }
      const left = options.giveUpAfterMs === undefined ? '' : `; giving up in about ${Math.round((options.giveUpAfterMs - down) / 1000)} s`;
      options.onStatus?.(`event stream: ${described.reason}; reconnecting in ${backoff / 1000} s${left}`);
    }
    // Ended by the caller's signal too: a wait that has its answer (or its deadline) does not sit out the back-off.
    await sleep(backoff, undefined, { signal: options.signal }).catch(() => undefined);
    backoff = Math.min(backoff * 2, options.maxBackoffMs ?? 10_000);
  }
}

export const registerWatch: RegisterCommand = (program) => {
  program.addCommand(
    program.createCommand('watch')
      .description(summaryOf('watch'))
      .option('--server <url>', 'service URL (default $TRIAGE_SERVER or http://127.0.0.1:8080)')
      .option('--token <token>', 'API token (default $TRIAGE_TOKEN)')
      .option('--since <event-id>', 'start after this event id instead of now')
      .option('--json', 'one JSON event per line')
      .option('--give-up-after <seconds>', 'exit 5 when the server stays unreachable this long', String(DEFAULT_GIVE_UP_SECONDS))
      .action(async (flags: WatchFlags) => {
        try {
          const giveUpAfterMs = positiveSeconds('--give-up-after', flags.giveUpAfter) * 1000;
          if (flags.since !== undefined && !/^\d+(-\d+)?$/.test(flags.since)) throw new UsageError(`--since must be an event id such as 1700000000000-0, not '${flags.since}'`);
          const controller = new AbortController();
          process.once('SIGINT', () => controller.abort());
          process.once('SIGTERM', () => controller.abort());
          onOutputClosed(() => controller.abort());
          await watchEvents({
            server: serverOptions(flags),
            since: flags.since,
            signal: controller.signal,
            giveUpAfterMs,
            onEvent: (e) => process.stdout.write(`${flags.json ? JSON.stringify(e) : eventLine(e)}\n`),
            onStatus: (m) => process.stderr.write(`triage: ${m}\n`),
          });
          process.exitCode = ExitCode.ok;
        } catch (err) {
          if (err instanceof WatchRefused) {
            process.stderr.write(`triage: error: ${err.message}\n`);
            process.exitCode = ExitCode.failure;
            return;
          }
          if (err instanceof UnreachableError) {
            process.stderr.write(`triage: error: ${err.message}\n`);
            process.exitCode = ExitCode.unavailable;
            return;
          }
          exitWithFailure(err);
        }
      }),
  );
};
