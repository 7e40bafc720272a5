import { Injectable } from '@nestjs/common';
import { ProblemCatalog } from '@triage/problems';

/** The API's handle on the problem catalog (read side; the worker records into it). */
@Injectable()
export class ProblemsService {
  constructor(readonly catalog: ProblemCatalog) {}
}
