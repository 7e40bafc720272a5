/**
 * Redaction and security headers happen at one point for every route: a route added tomorrow gets them
 * without doing anything. Proven two ways: a probe controller booted into the real AppModule (with the
 * real HTTP setup) returns reports naked and the reader never sees run-time data; and every route of the
 * app that writes its own response (bypassing that point) must be one of the listed byte streams.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, type Type } from '@nestjs/common';
import { RESPONSE_PASSTHROUGH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@triage/config';
import type { Report } from '@triage/report';
import { generateToken } from '@triage/security';
import { AppModule } from '../../apps/api/src/app.module';
import { configureHttp } from '../../apps/api/src/app.factory';
import { CONTENT_SECURITY_POLICY } from '../../apps/api/src/http/security-headers';
import { PageResponse } from '../../apps/api/src/http/page-response';
import { dropRedisPrefix } from '../support/redis';

const SECRET = 'hunter2';

function secretReport(): Report {
  return {
    id: '0123456789abcdef0123456789abcdef',
    signature: 'uncaught-exception | main',
    signatureHash: 'f'.repeat(64),
    createdAt: '2024-01-01T00:00:00.000Z',
    core: { sha256: 'a'.repeat(64), size: 4096, truncated: false, signal: { number: 6, name: 'SIGABRT' }, pid: 42, executable: '/usr/bin/app', cmdline: `app --password ${SECRET}` },
    classification: {
      kind: 'uncaught-exception',
      summary: `Uncaught C++ exception std::runtime_error ("token ${SECRET} rejected") thrown from main`,
      message: `token ${SECRET} rejected`,
      exceptionType: 'std::runtime_error',
      flags: [],
      blame: { module: 'app', function: 'main' },
    },
    threads: [{ tid: 42, crashed: true, frames: [{ index: 0, pc: '0x1', module: 'app', function: 'main' }] }],
    modules: [{ name: 'app', path: '/usr/bin/app', start: '0x1000', end: '0x2000', debuginfo: 'found' }],
    analysis: { tool: 'eu-stack', durationMs: 1, warnings: [] },
  };
}

/** A route as someone might add it tomorrow: it returns what it has and thinks of nothing else. */
@Controller('probe')
class ProbeController {
  @Get('json')
  json(): Report {
    return secretReport();
  }

  @Get('nested')
  nested(): unknown {
    return { reports: [secretReport()], meta: { metadata: { cmdline: `app --password ${SECRET}` } } };
  }

  @Get('page')
  page(): PageResponse {
    const report = secretReport();
    return new PageResponse({ view: 'report', report, core: { metadata: { cmdline: `app --password ${SECRET}` }, uploads: [] }, links: { json: '/j', markdown: '/m' } });
  }

  @Get('markdown')
  markdown(): PageResponse {
    return new PageResponse({ view: 'report', report: secretReport(), links: { json: '/j', markdown: '/m' } }, 'markdown');
  }
}

/** Routes that write the response themselves: bytes and streams that never carry a report. */
const WRITES_OWN_RESPONSE = new Set(['AdminController.download', 'MetricsController.scrape', 'EventsController.stream', 'DebuginfodController.serve', 'HealthController.readyz']);

describe('one point for redaction and security headers', () => {
  const prefix = `test-responses-${process.pid}-${Date.now()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'triage-responses-'));
  const reader = generateToken('viewer', ['read']);
  const admin = generateToken('ops', ['admin']);
  const config = loadConfig({ ...process.env, TRIAGE_STORAGE: 'fs', TRIAGE_DATA_DIR: dataDir, TRIAGE_REDIS_PREFIX: prefix, TRIAGE_TOKENS: `${reader.entry},${admin.entry}`, TRIAGE_RETENTION_SWEEP_MS: '0' });
  let app: NestExpressApplication;
  let url = '';

  before(async () => {
    @Module({ imports: [AppModule.forRoot(config)], controllers: [ProbeController] })
    class ProbeModule {}
    app = await NestFactory.create<NestExpressApplication>(ProbeModule, { bodyParser: false, logger: false });
    configureHttp(app);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
    await dropRedisPrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (path: string, token: { token: string }) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token.token}` } });

  test('a new route returning reports (JSON, nested, HTML page, Markdown) never shows a reader the run-time data', async () => {
    for (const path of ['/probe/json', '/probe/nested', '/probe/page', '/probe/markdown']) {
      const asReader = await get(path, reader);
      const text = await asReader.text();
      assert.equal(asReader.status, 200, `${path}: ${text}`);
      assert.ok(!text.includes(SECRET), `${path} leaked to a reader: ${text.slice(0, 300)}`);
      assert.match(text, /std::runtime_error/, `${path} still shows the exception type`);
      const asAdmin = await (await get(path, admin)).text();
      assert.ok(asAdmin.includes(SECRET), `${path}: an admin sees the report whole`);
    }
    assert.match((await get('/probe/page', reader)).headers.get('content-type') ?? '', /^text\/html/);
    assert.match((await get('/probe/markdown', reader)).headers.get('content-type') ?? '', /^text\/markdown/);
  });

  test('every answer carries the security headers: new routes, pages, errors, refusals', async () => {
    const answers = [await get('/probe/json', reader), await get('/probe/page', reader), await get('/no/such/route', reader), await fetch(`${url}/probe/json`), await get('/healthz', reader)];
    for (const res of answers) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
      assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, res.url);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', res.url);
    }
    assert.equal(answers[3].status, 401);
  });

  test('only the listed byte streams write their own response (and so skip the one point)', () => {
    const controllers = (AppModule.forRoot(config).controllers ?? []) as Array<Type<unknown>>;
    const own: string[] = [];
    for (const controller of controllers) {
      for (const method of Object.getOwnPropertyNames(controller.prototype)) {
        const args = Object.keys((Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, unknown>);
        const passthrough = Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, method) === true;
        const writesItself = !passthrough && args.some((key) => key.startsWith(`${RouteParamtypes.RESPONSE}:`));
        if (writesItself) own.push(`${controller.name}.${method}`);
      }
    }
    assert.ok(own.length > 0, 'the check sees @Res routes');
    assert.deepEqual(own.filter((r) => !WRITES_OWN_RESPONSE.has(r)), [], 'a route writing its own response skips redaction: return data (or a PageResponse) instead');
  });
});
