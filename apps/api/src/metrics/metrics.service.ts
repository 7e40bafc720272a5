import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AnalysisQueue } from '../infra/analysis-queue.service';

export type UploadResult = 'accepted' | 'duplicate' | 'rejected';

/**
 * The API's Prometheus metrics, in a registry of its own (not prom-client's global one) so several app
 * instances can live in one process, as they do in the tests.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly uploads = new Counter({
    name: 'triage_uploads_total',
    help: 'Core uploads by entry point and result (duplicate = these exact bytes were stored before)',
    labelNames: ['via', 'result'] as const,
    registers: [this.registry],
  });
  private readonly uploadedBytes = new Counter({
    name: 'triage_upload_bytes_total',
    help: 'Bytes received in accepted core uploads, as sent (compressed)',
    registers: [this.registry],
  });
  private readonly analysisDuration = new Histogram({
    name: 'triage_analysis_duration_seconds',
    help: 'Time from a worker taking an analysis job to finishing it, as seen in the queue events',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly analysisFailures = new Counter({
    name: 'triage_analysis_failures_total',
    help: 'Analysis jobs that failed (each failed attempt counts)',
    registers: [this.registry],
  });

  constructor(queue: AnalysisQueue) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'triage_queue_jobs',
      help: 'Analysis jobs in the queue by state (read from BullMQ at scrape time)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        // A scrape while Redis is down still answers; the gauge just keeps its last values.
        const depth = await queue.depth().catch(() => undefined);
        if (!depth) return;
        for (const [state, n] of Object.entries(depth)) this.set({ state }, n);
      },
    });
  }

  upload(via: string, result: UploadResult): void {
    this.uploads.inc({ via, result });
  }

  uploadBytes(bytes: number): void {
    this.uploadedBytes.inc(bytes);
  }

  analysisFinished(seconds: number): void {
    this.analysisDuration.observe(seconds);
  }

  analysisFailed(): void {
    this.analysisFailures.inc();
  }
}
