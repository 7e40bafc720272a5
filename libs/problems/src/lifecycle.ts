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
): Promise<{ record: RecordResult; events: LifecycleEvent[] }> {
  // Subscribers hold read tokens: events never carry the process's run-time data.
  const report = redactReport(stored).report;
  const record = await catalog.record(report, meta);
  const events: LifecycleEvent[] = [];
  const c = report.classification;
  const common = { coreId: report.id, problemId: record.problemId, reportId: report.id, kind: c.kind, signature: report.signature, executable: executableName(report) };
  if (record.isNew) events.push(await bus.publish({ type: 'problem-new', ...common }));
  if (record.regressed && record.previousLastSeen) events.push(await bus.publish({ type: 'problem-regressed', ...common, previousLastSeen: record.previousLastSeen }));
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
