import { Inject, Injectable } from '@nestjs/common';
import { CoreRecords } from '../../../../libs/storage/src/core-records';
import type { StoragePort } from '../../../../libs/storage/src/storage.port';
import { STORAGE } from '../infra/tokens';

/** The API's injectable handle on the JSON objects kept beside each core (meta, status, report). */
@Injectable()
export class CoreStore extends CoreRecords {
  constructor(@Inject(STORAGE) storage: StoragePort) {
    super(storage);
  }
}
