import { Inject, Injectable } from '@nestjs/common';
import type { StoragePort } from '@triage/storage';
import { STORAGE } from '../infra/tokens';

/** What FAF calls a report: one bthash, the first stored crash that had it, and what clients attached. */
export interface UReportRecord {
  bthash: string;
  coreId: string;
  firstSeen: string;
  attachments: Array<{ type: string; data: string; at: string }>;
}

const BTHASH = /^[0-9a-f]{40}$/;

/** ureports/<bthash>.json in object storage: the bthash -> report link libreport's reported_to points at. */
@Injectable()
export class UReportIndex {
  constructor(@Inject(STORAGE) private readonly storage: StoragePort) {}

  private key(bthash: string): string | undefined {
    const h = bthash.toLowerCase();
    return BTHASH.test(h) ? `ureports/${h}.json` : undefined;
  }

  async find(bthash: string): Promise<UReportRecord | undefined> {
    const key = this.key(bthash);
    if (!key) return undefined;
    const buf = await this.storage.getBuffer(key);
    return buf ? (JSON.parse(buf.toString('utf8')) as UReportRecord) : undefined;
  }

  async write(record: UReportRecord): Promise<void> {
    const key = this.key(record.bthash);
    if (!key) throw new Error(`not a bthash: ${record.bthash}`);
    await this.storage.put(key, JSON.stringify(record), { contentType: 'application/json' });
  }
}
