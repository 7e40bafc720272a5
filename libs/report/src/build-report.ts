import { classify } from './classify';
import { crashHandlerView } from './crash-handler';
import type { CrashEvidence } from './evidence';
import type { ReportBody, ReportCore, ModuleEntry, Report, Thread } from './model';
import { computeSignature } from './signature';

export interface BuildReportInput {
  id: string;
  createdAt: string;
  core: ReportCore;
  evidence: CrashEvidence;
  modules: ModuleEntry[];
  analysis: Report['analysis'];
}

/** The report of a core whose identity is known. */
export function buildReport(input: BuildReportInput): Report {
  const { id, core, ...rest } = input;
  return identify(buildReportBody({ ...rest, core }), { sha256: core.sha256, size: core.size }, id);
}

/**
 * The report with the core's identity added: `id` first and the core's sha256 and size first within it,
 * where a report made whole has them.
 */
export function identify(body: ReportBody, identity: Pick<ReportCore, 'sha256' | 'size'>, id = identity.sha256.slice(0, 32)): Report {
  return { id, ...body, core: { ...identity, ...body.core } };
}

/** Everything the analysis found, classified and signed; the core's identity is added by identify(). */
export function buildReportBody(input: Omit<BuildReportInput, 'id' | 'core'> & { core: ReportBody['core'] }): ReportBody {
  const { core } = input;
  // The core facts know things the evidence may not have been given (pid, a truncation found by intake).
  const evidence: CrashEvidence = {
    ...input.evidence,
    pid: input.evidence.pid ?? core.pid,
    truncated: input.evidence.truncated || core.truncated,
    executable: input.evidence.executable ?? core.executable,
  };
  const classification = classify(evidence);
  // The report shows a crash handler's frames marked (classify and the signature look below them).
  const shown = classification.kind === 'snapshot' ? evidence : (crashHandlerView(evidence)?.evidence ?? evidence);
  const { signature, signatureHash } = computeSignature(evidence, classification);
  return {
    signature,
    signatureHash,
    createdAt: input.createdAt,
    core,
    classification,
    threads: reportThreads(shown),
    modules: input.modules,
    analysis: input.analysis,
  };
}

/** Crashed thread first (as the kernel writes them), the rest in the order the tool gave. */
function reportThreads(evidence: CrashEvidence): Thread[] {
  const threads = evidence.threads.map((t) => ({ tid: t.tid, crashed: t.tid === evidence.crashingTid, frames: t.frames }));
  return [...threads.filter((t) => t.crashed), ...threads.filter((t) => !t.crashed)];
}
