import type { CoreRecords } from '@triage/cores';
import { inOrder } from '@triage/promises';
import { CatalogLoader } from './catalog-loader';
import type { RebuildResult } from './model';
import type { ProblemCatalog } from './problem-catalog';
import { recordMetaOf, type StoredMetaFields } from './record-meta';

/** Objects read from storage at once. */
const READ_AHEAD = 64;

export interface RebuildOptions {
  /** While reading metadata, (0, reports listed so far); then (reports grouped, all reports). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Recreates the catalog from object storage: every reports/<id>.json, with arrival time, hosts, packages,
 * components and OS from cores/<id>/meta.json. Reports are grouped oldest first, so problem ids (the
 * first report's hash) and near-duplicate choices come out as they did live. Workers may keep working:
 * see CatalogLoader for how a report they record during the rebuild is kept.
 */
export async function rebuildCatalog(catalog: ProblemCatalog, records: CoreRecords, options: RebuildOptions = {}): Promise<RebuildResult> {
  // An unreadable meta (libs/cores' torn-read rule) only leaves out hosts and packages; an unreadable report is skipped.
  const readMeta = (id: string) => records.readMeta(id).catch(() => undefined);
  // Pass 1 reads each meta once, while the listing goes on, and keeps only what grouping needs, so
  // reports can be taken in arrival order.
  const arrivals: Array<{ id: string; at: number; meta: StoredMetaFields | undefined }> = [];
  for await (const entry of inOrder(records.reports(), READ_AHEAD, async (o) => ({ id: o.id, meta: await readMeta(o.id), lastModified: o.lastModified }))) {
    const first = entry.meta?.uploads?.[0]?.at;
    const at = first && !Number.isNaN(Date.parse(first)) ? Date.parse(first) : entry.lastModified.getTime();
    arrivals.push({ id: entry.id, at, meta: entry.meta && { metadata: pick(entry.meta.metadata), uploads: entry.meta.uploads?.slice(0, 1) } });
    if (arrivals.length % 1000 === 0) options.onProgress?.(0, arrivals.length);
  }
  arrivals.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
  const readReport = async (a: { id: string; at: number; meta: StoredMetaFields | undefined }) => {
    const report = await records.readReport(a.id).catch(() => undefined);
    return report?.signatureHash && report.classification ? { report, meta: { ...recordMetaOf(report, a.meta), receivedAt: new Date(a.at) } } : undefined;
  };

  const loader = new CatalogLoader(catalog);
  await loader.start();
  let done = 0;
  let skipped = 0;
  try {
    for await (const entry of inOrder(arrivals, READ_AHEAD, readReport)) {
      done++;
      if (entry) await loader.add(entry.report, entry.meta);
      else skipped++;
      if (done % 100 === 0 || done === arrivals.length) options.onProgress?.(done, arrivals.length);
    }
  } catch (err) {
    await loader.drop();
    throw err;
  }
  const recordedMeanwhile = await loader.finish();
  for (const id of recordedMeanwhile) {
    const [report, meta] = await Promise.all([records.readReport(id).catch(() => undefined), readMeta(id)]);
    if (report?.signatureHash && report.classification) await catalog.record(report, recordMetaOf(report, meta));
  }
  // What people decided lives in its own tables, which the load leaves alone; storage holds it too, so a catalog that lost it gets it back.
  for await (const workflow of records.problemWorkflows()) await catalog.restoreWorkflow(workflow);
  const counts = await catalog.counts();
  return { reports: counts.reports, problems: counts.problems, skipped };
}

/**
 * The metadata fields recording reads (hostname, package, component, osRelease, architecture, and the
 * crash time that first/last seen and the per-day counts go by), nothing else kept in memory.
 */
function pick(m: StoredMetaFields['metadata']): StoredMetaFields['metadata'] {
  return m && { hostname: m.hostname, package: m.package, component: m.component, osRelease: m.osRelease, architecture: m.architecture, timestamp: m.timestamp };
}
