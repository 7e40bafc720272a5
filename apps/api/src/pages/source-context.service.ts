import { Inject, Injectable } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { DebuginfodClient, MAX_SOURCE_BYTES, SourceStore } from '@triage/debuginfo';
import { crashedThread, type Report, type SourceContext } from '@triage/report';
import { CONFIG } from '../infra/tokens';

/** Lines shown on each side of a frame's line. */
export const SOURCE_CONTEXT_LINES = 4;
/** Frames of the crashing thread looked up at most (the top of the stack is what people read). */
export const SOURCE_FRAMES = 16;
/** Upstream sources kept in memory: a page reloaded while triaging must not ask upstream again. */
const CACHE_ENTRIES = 200;

/**
 * Source lines around the crashing thread's frames, found the way debuginfod clients find them: by the
 * frame's build-id and the absolute path its DWARF recorded, first in this service's own store
 * (PUT /v1/debuginfo/source), then from the upstream debuginfod servers (DEBUGINFOD_URLS), with a
 * short timeout so a page never waits on a stalled server. What is not found says why.
 */
@Injectable()
export class SourceContexts {
  private readonly upstream: DebuginfodClient;
  private readonly cache = new Map<string, Buffer | undefined>();

  constructor(
    @Inject(CONFIG) config: TriageConfig,
    private readonly sources: SourceStore,
  ) {
    this.upstream = new DebuginfodClient(config.debuginfodUrls, { timeoutMs: 2_000, downloadTimeoutMs: 5_000, maxBytes: MAX_SOURCE_BYTES });
  }

  async forReport(report: Report): Promise<Record<number, SourceContext>> {
    const buildIds = new Map(report.modules.map((m) => [m.name, m.buildId]));
    const frames = (crashedThread(report)?.frames ?? []).filter((f) => f.file && f.line !== undefined).slice(0, SOURCE_FRAMES);
    const out: Record<number, SourceContext> = {};
    await Promise.all(
      frames.map(async (f) => {
        const path = f.file as string;
        const line = f.line as number;
        const buildId = f.buildId ?? (f.module ? buildIds.get(f.module) : undefined);
        if (!buildId) out[f.index] = { missing: `${f.module ?? 'the module'} has no build-id to look ${path} up by` };
        else if (!path.startsWith('/')) out[f.index] = { missing: `${path} is a relative path (the build recorded no directory for it)` };
        else out[f.index] = around(await this.text(buildId, path), path, line, buildId);
      }),
    );
    return out;
  }

  private async text(buildId: string, path: string): Promise<Buffer | undefined> {
    const key = `${buildId}\0${path}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const stored = await this.sources.get(buildId, path).catch(() => undefined);
    if (stored) return stored;
    const fetched = (await this.upstream.fetchSource(buildId, path, MAX_SOURCE_BYTES)).text;
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, fetched);
    return fetched;
  }
}

function around(text: Buffer | undefined, path: string, line: number, buildId: string): SourceContext {
  if (!text) return { missing: `${path} was not uploaded for build-id ${buildId.slice(0, 12)}… and no debuginfod server has it` };
  const lines = text.toString('utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (line < 1 || line > lines.length) return { missing: `${path} has ${lines.length} lines, not line ${line}: another version of the file?` };
  const first = Math.max(1, line - SOURCE_CONTEXT_LINES);
  const last = Math.min(lines.length, line + SOURCE_CONTEXT_LINES);
  return { path, line, first, lines: lines.slice(first - 1, last).map((l) => l.slice(0, 400)) };
}
