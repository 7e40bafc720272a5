/** Requests Node refuses before Nest sees them still get the API's `{error, reason}` JSON. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@triage/config';
import { createApp } from '../../apps/api/src/app.factory';
import { dropRedisPrefix } from '../support/redis';

const data = mkdtempSync(join(tmpdir(), 'triage-client-errors-'));
const prefix = `triage-test-client-errors-${randomBytes(6).toString('hex')}`;
after(async () => {
  rmSync(data, { recursive: true, force: true });
  await dropRedisPrefix(prefix);
});

/** Sends raw bytes and returns everything the server answered before it closed the connection. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(request);
  });
}

function parse(answer: string): { status: number; contentType?: string; body: unknown } {
  const [head, body] = answer.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /^content-type: (.*)$/im.exec(head)?.[1];
  return { status, contentType, body: JSON.parse(body) };
}

test('an oversized request header is answered 431 with JSON; malformed HTTP 400 with JSON', async () => {
  const config = loadConfig({ ...process.env, TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: data, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_TOKENS: '' });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  try {
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const big = parse(await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    assert.equal(big.status, 431);
    assert.match(big.contentType ?? '', /application\/json/);
    assert.equal((big.body as { error: string }).error, 'too-large');
    assert.match((big.body as { reason: string }).reason, /request headers are larger than/);
    const junk = parse(await raw(port, 'NOT HTTP AT ALL\r\n\r\n'));
    assert.equal(junk.status, 400);
    assert.deepEqual(Object.keys(junk.body as object).sort(), ['error', 'reason']);
  } finally {
    await app.close();
  }
});
