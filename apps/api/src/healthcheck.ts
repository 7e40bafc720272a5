#!/usr/bin/env node
/**
 * The image's HEALTHCHECK for the API: exits 0 when this container's API answers /healthz, 1 otherwise.
 * It asks the address the API listens on (loopback when it listens on every interface).
 */
import { loadConfig } from '@triage/config';

const TIMEOUT_MS = 4_000;

function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function main(): Promise<number> {
  const config = loadConfig();
  const url = `http://${probeHost(config.host)}:${config.port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (res.ok) return 0;
    process.stderr.write(`healthcheck: ${url} answered ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`healthcheck: ${url}: ${(err as Error).message}\n`);
  }
  return 1;
}

main().then((code) => process.exit(code), () => process.exit(1));
