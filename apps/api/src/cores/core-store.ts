import { Inject, Injectable } from '@nestjs/common';
import type { Report } from '../../../../libs/report/src/model';
import { keys } from '../../../../libs/storage/src/layout';
import type { StoragePort } from '../../../../libs/storage/src/storage.port';
import { STORAGE } from '../infra/tokens';
import type { CoreMeta, CoreStatus } from './core-record';

/** Reads and writes the JSON objects kept beside each core (meta, status, report). */
@Injectable()
export class CoreStore {
  constructor(@Inject(STORAGE) private readonly storage: StoragePort) {}

  private async readJson<T>(key: string): Promise<T | undefined> {
    const buf = await this.storage.getBuffer(key);
    return buf ? (JSON.parse(buf.toString('utf8')) as T) : undefined;
  }

  private async writeJson(key: string, value: unknown): Promise<void> {
    await this.storage.put(key, JSON.stringify(value, null, 2), { contentType: 'application/json' });
  }

  async coreExists(id: string): Promise<boolean> {
    return (await this.storage.stat(keys.core(id))) !== undefined;
  }

  readMeta(id: string): Promise<CoreMeta | undefined> {
    return this.readJson<CoreMeta>(keys.coreMeta(id));
  }

  writeMeta(meta: CoreMeta): Promise<void> {
    return this.writeJson(keys.coreMeta(meta.id), meta);
  }

  readStatus(id: string): Promise<CoreStatus | undefined> {
    return this.readJson<CoreStatus>(keys.coreStatus(id));
  }

  writeStatus(id: string, status: CoreStatus): Promise<void> {
    return this.writeJson(keys.coreStatus(id), status);
  }

  readReport(id: string): Promise<Report | undefined> {
    return this.readJson<Report>(keys.report(id));
  }

  /** The status a client sees: status.json, or "queued" for a stored core whose status is not written yet. */
  async currentStatus(id: string): Promise<CoreStatus | undefined> {
    const status = await this.readStatus(id);
    if (status) return status;
    const meta = await this.readMeta(id);
    if (!meta) return undefined;
    return { state: 'queued', updatedAt: meta.uploads.at(-1)?.at ?? new Date(0).toISOString(), attempts: 0 };
  }

  /** Removes a core and everything beside it; used to undo an upload that could not be queued. */
  async removeCore(id: string): Promise<void> {
    for (const key of [keys.coreStatus(id), keys.coreMeta(id), keys.core(id)]) await this.storage.delete(key);
  }
}
