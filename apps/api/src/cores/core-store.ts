import { Inject, Injectable } from '@nestjs/common';
import { CoreRecords } from '@triage/storage';
import type { StoragePort } from '@triage/storage';
import { STORAGE } from '../infra/tokens';

/** The API's injectable handle on the JSON objects kept beside each core (meta, status, report). */
@Injectable()
export class CoreStore extends CoreRecords {
  constructor(@Inject(STORAGE) storage: StoragePort) {
    super(storage);
  }
}
