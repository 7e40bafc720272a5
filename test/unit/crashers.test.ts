import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { crash } from '../support/crashers';

test('the crasher harness produces a real core of a stripped program', () => {
  const c = crash('null-read');
  assert.ok(statSync(c.core).size > 4096);
  assert.match(c.buildIds['null-read'], /^[0-9a-f]{40}$/);
});
