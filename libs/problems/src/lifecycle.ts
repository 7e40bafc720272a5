import { redactReport } from '@triage/security';
import type { EventBus, LifecycleEvent } from '@triage/events';
import type { Report } from '@triage/report';
import type { RecordMeta, RecordResult } from './model';
import type { ProblemCatalog } from './problem-catalog';
import { executableName } from './distance';

/**
 * What the worker does once a report is stored: group it, then tell subscribers. Order matters to a
 * subscriber keeping its own table: problem-new / problem-regressed come before report-ready, so the
 * problem id that report-ready names is already known to it.
 */
export async function recordAndAnnounce(
  catalog: ProblemCatalog,
  bus: EventBus,
  stored: Report,
  meta: RecordMeta,
  /** What must be done before anything is announced (the worker's "done" status), run beside the grouping. */
  before?: Promise<unknown>,
): Promise<{ record: RecordResult; events: LifecycleEvent[] }> {
  // Subscribers hold read tokens: events never carry the process's run-time data.
  const report = redactReport(stored).report;
  const record = await catalog.record(report, meta);
  await before;
  const events: LifecycleEvent[] = [];
  const c = report.classification;
  const common = { coreId: report.id, problemId: record.problemId, reportId: report.id, kind: c.kind, signature: report.signature, executable: executableName(report) };
  if (record.isNew) events.push(await bus.publish({ type: 'problem-new', ...common }));
  // One event for a problem that came back, whether after a quiet spell or in a version marked fixed (or both).
  if ((record.regressed || record.reopened) && record.previousLastSeen) {
    events.push(await bus.publish({ type: 'problem-regressed', ...common, previousLastSeen: record.previousLastSeen, ...(record.reopened ?? {}) }));
  }
  events.push(
    await bus.publish({
      type: 'report-ready',
      ...common,
      summary: c.summary,
      signatureHash: report.signatureHash,
      libraryAbort: c.kind === 'library-abort' || c.flags.includes('library-abort'),
    }),
  );
  return { record, events };
}

/**
 * What the worker does once a reprocessed report replaced the old one: group it again (the old problem
 * loses the count when the signature moved it, and notes it as reprocessed), then tell subscribers.
 */
export async function recordReprocessed(
  catalog: ProblemCatalog,
  bus: EventBus,
  stored: Report,
  meta: RecordMeta,
  previous: Pick<Report, 'signature'> | undefined,
): Promise<{ record: RecordResult; events: LifecycleEvent[] }> {
  const report = redactReport(stored).report;
  const record = await catalog.record(report, meta, { replace: true });
  const c = report.classification;
  const events: LifecycleEvent[] = [];
  const executable = executableName(report);
  if (record.isNew) events.push(await bus.publish({ type: 'problem-new', coreId: report.id, problemId: record.problemId, reportId: report.id, kind: c.kind, signature: report.signature, executable }));
  events.push(
    await bus.publish({
      type: 'report-reprocessed',
      coreId: report.id,
      reportId: report.id,
      problemId: record.problemId,
      ...(record.movedFrom ? { previousProblemId: record.movedFrom } : {}),
      kind: c.kind,
      summary: c.summary,
      signature: report.signature,
      ...(previous && previous.signature !== report.signature ? { previousSignature: previous.signature } : {}),
      executable,
    }),
  );
  return { record, events };
}
