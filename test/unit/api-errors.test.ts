import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundException } from '@nestjs/common';
import { mapError } from '../../apps/api/src/http/exception.filter';
import { ApiError, ServiceUnavailableError } from '../../apps/api/src/http/errors';
import { IntakeError } from '@triage/intake';
import { StorageUnavailableError } from '@triage/storage';
import { CoreFormatError } from '@triage/core-dump';
import { ToolError } from '@triage/symbolizer';
import { CaptureError } from '@triage/memory';

test('errors map to statuses with { error, reason } and never leak internals', () => {
  assert.deepEqual(mapError(new IntakeError('unsupported', 'not a core')), { status: 415, body: { error: 'unsupported', reason: 'not a core' } });
  assert.equal(mapError(new IntakeError('too-large', 'big')).status, 413);
  assert.equal(mapError(new IntakeError('unsafe-archive', 'bad path')).status, 415);
  const storage = mapError(new StorageUnavailableError('connect ECONNREFUSED 127.0.0.1:9000'));
  assert.equal(storage.status, 503);
  assert.ok(storage.retryAfterSeconds! > 0);
  assert.ok(!storage.body.reason.includes('ECONNREFUSED'));
  assert.equal(mapError(new ServiceUnavailableError('redis down', 7)).retryAfterSeconds, 7);
  assert.deepEqual(mapError(new ApiError(404, 'not-found', 'no core')).body, { error: 'not-found', reason: 'no core' });
  assert.equal(mapError(new NotFoundException('Cannot GET /x')).status, 404);
  const internal = mapError(new Error('secret path /etc/shadow'));
  assert.deepEqual(internal, { status: 500, body: { error: 'internal', reason: 'internal error' } });
});

test('library errors get the categories the CLI and worker use: a corrupt core is 415, a failed tool 502', () => {
  assert.deepEqual(mapError(new CoreFormatError('the core has no PT_NOTE segment')), { status: 415, body: { error: 'bad-input', reason: 'the core has no PT_NOTE segment' } });
  const tool = mapError(new ToolError('gdb', 'timed out after 1000 ms'));
  assert.equal(tool.status, 502);
  assert.equal(tool.body.error, 'tool-failed');
  assert.match(tool.body.reason, /timed out/);
  // A live capture's failures (gone, not permitted, gcore failed) get the categories they get everywhere else.
  assert.deepEqual(mapError(new CaptureError('gone', 'process 4242 is gone')), { status: 404, body: { error: 'not-found', reason: 'process 4242 is gone' } });
  assert.deepEqual(mapError(new CaptureError('not-permitted', 'ptrace is not permitted')), { status: 415, body: { error: 'bad-input', reason: 'ptrace is not permitted' } });
  assert.equal(mapError(new CaptureError('failed', 'gcore wrote nothing')).status, 502);
});
