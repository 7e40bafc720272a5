import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { StoragePort } from '@triage/storage';
import { sweepScratch } from '@triage/tools';
import { STORAGE } from '../infra/tokens';

/** An upload still in uploads/ after this long belongs to an API process that died mid-request. */
const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Failed uploads remove their temporary object themselves; only a crash or a kill of the API can leave
 * one behind: an upload object, a temporary file of the fs store, an incomplete S3 multipart upload,
 * a scratch dir. Those are swept here at start and hourly, long after any upload could still be running
 * (scratch dirs as soon as their process is gone).
 */
@Injectable()
export class UploadsJanitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('uploads-janitor');
  private timer?: NodeJS.Timeout;

  constructor(@Inject(STORAGE) private readonly storage: StoragePort) {}

  onApplicationBootstrap(): void {
    const sweep = () => void this.sweep().catch((err: Error) => this.logger.warn(`sweep failed: ${err.message}`));
    sweep();
    this.timer = setInterval(sweep, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for await (const object of this.storage.list('uploads/')) {
      if (now - object.lastModified.getTime() < ABANDONED_AFTER_MS) continue;
      await this.storage.delete(object.key);
      removed++;
    }
    const partial = await this.storage.sweepAbandoned(new Date(now - ABANDONED_AFTER_MS));
    const scratch = await sweepScratch();
    if (removed + partial) this.logger.log(`removed ${removed} abandoned upload(s) and ${partial} partial write(s)`);
    if (scratch.length) this.logger.log(`removed scratch dirs of dead processes: ${scratch.join(', ')}`);
    return removed + partial;
  }
}
