#!/usr/bin/env node
/** The worker container's healthcheck: exits 0 while the worker's heartbeat is fresh, 1 with the reason otherwise. */
import { loadConfig } from '@triage/config';
import { heartbeatProblem } from './heartbeat';

heartbeatProblem(loadConfig().workerHeartbeatFile).then(
  (problem) => {
    if (problem) process.stderr.write(`healthcheck: ${problem}\n`);
    process.exit(problem ? 1 : 0);
  },
  (err: unknown) => {
    process.stderr.write(`healthcheck: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
