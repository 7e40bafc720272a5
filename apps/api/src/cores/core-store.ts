import { Inject, Injectable } from '@nestjs/common';
import { CoreRecords } from '@triage/cores';
import type { StoragePort } from '@triage/storage';
import { STORAGE } from '../infra/tokens';

/** The API's injectable handle on the records kept beside each core (libs/cores). */
@Injectable()
export class CoreStore extends CoreRecords {
  constructor(@Inject(STORAGE) storage: StoragePort) {
    super(storage);
  }
}
