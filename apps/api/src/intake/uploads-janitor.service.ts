import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { TriageConfig } from '@triage/config';
import { sessionRemovalOrder, uploadSessionOf, type StoragePort } from '@triage/storage';
import { sweepScratch } from '@triage/tools';
import { CONFIG, STORAGE } from '../infra/tokens';

/** An upload still in uploads/ after this long belongs to an API process that died mid-request. */
const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Failed uploads remove their temporary object themselves; only a crash or a kill of the API can leave
 * one behind: an upload object, a temporary file of the fs store, an incomplete S3 multipart upload,
 * a scratch dir. Those are swept here at start and hourly, long after any upload could still be running
 * (scratch dirs as soon as their process is gone). A resumable upload session goes as a whole once
 * nothing in it was written for TRIAGE_UPLOAD_SESSION_TTL_MS: abandoned, or finished and its answer
 * kept that long.
 */
@Injectable()
export class UploadsJanitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('uploads-janitor');
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CONFIG) private readonly config: TriageConfig,
    @Inject(STORAGE) private readonly storage: StoragePort,
  ) {}

  onApplicationBootstrap(): void {
    const sweep = () => void this.sweep().catch((err: Error) => this.logger.warn(`sweep failed: ${err.message}`));
    sweep();
    this.timer = setInterval(sweep, Math.min(SWEEP_EVERY_MS, this.config.uploadSessionTtlMs));
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    // Session objects by session: the newest write decides, so a session in use never loses its first parts.
    const sessions = new Map<string, { keys: string[]; newest: number }>();
    for await (const object of this.storage.list('uploads/')) {
      const session = uploadSessionOf(object.key);
      if (session) {
        const entry = sessions.get(session) ?? { keys: [], newest: 0 };
        entry.keys.push(object.key);
        entry.newest = Math.max(entry.newest, object.lastModified.getTime());
        sessions.set(session, entry);
        continue;
      }
      if (now - object.lastModified.getTime() < ABANDONED_AFTER_MS) continue;
      await this.storage.delete(object.key);
      removed++;
    }
    let sessionsRemoved = 0;
    for (const [id, entry] of sessions) {
      if (now - entry.newest < this.config.uploadSessionTtlMs) continue;
      // The record last, the answer just before it (sessionRemovalOrder).
      for (const key of sessionRemovalOrder(entry.keys)) await this.storage.delete(key);
      this.logger.log(`removed upload session ${id} (${entry.keys.length} object(s), untouched for ${Math.round((now - entry.newest) / 60_000)} min)`);
      sessionsRemoved++;
    }
    const partial = await this.storage.sweepAbandoned(new Date(now - ABANDONED_AFTER_MS));
    const scratch = await sweepScratch();
    if (removed + partial) this.logger.log(`removed ${removed} abandoned upload(s) and ${partial} partial write(s)`);
    if (scratch.length) this.logger.log(`removed scratch dirs of dead processes: ${scratch.join(', ')}`);
    return removed + partial + sessionsRemoved;
  }
}
