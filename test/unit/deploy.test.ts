/**
 * The deployment files agree with the code: docker-compose.yml and k8s/*.yaml parse, name images,
 * expose the port the API listens on, set only environment variables libs/config reads, and probe
 * paths the API serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '@triage/config';
import { waitListKey } from '@triage/queue';
import { loadTokenEntries } from '@triage/security';
import { API_NODE_FLAGS } from '../../apps/api/src/node-flags';

const root = resolve(__dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Doc = Record<string, unknown>;
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  livenessProbe?: { httpGet?: { path: string; port: number | string }; exec?: { command: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: {
    procMount?: string;
    seccompProfile?: { type: string };
    appArmorProfile?: { type: string };
    capabilities?: { drop?: string[] };
    allowPrivilegeEscalation?: boolean;
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  secrets?: string[];
  healthcheck?: { test: string[] };
  security_opt?: string[];
  stop_grace_period?: string;
}

/** The names libs/config reads: the keys of its zod schema, taken from the source (the schema is not exported). */
function configKeys(): Set<string> {
  const source = read('libs/config/src/config.ts');
  const block = /const schema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source);
  assert.ok(block, 'found the config schema');
  const names = [...block[1].matchAll(/^\s+([A-Z][A-Z0-9_]*):\s*z\./gm)].map((m) => m[1]);
  assert.ok(names.length > 10, `read ${names.length} config names`);
  return new Set(names);
}

const k8sDocs: Doc[] = readdirSync(join(root, 'k8s'))
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort()
  .flatMap((f) =>
    parseAllDocuments(read(join('k8s', f))).map((d) => {
      assert.deepEqual(d.errors, [], `k8s/${f} parses`);
      return d.toJSON() as Doc;
    }),
  );
// Compose files use YAML merge keys (<<: *anchor), which YAML 1.2 leaves off by default.
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string }>;
};

function byKind(kind: string, name?: string): Doc[] {
  return k8sDocs.filter((d) => d.kind === kind && (!name || (d.metadata as { name: string }).name === name));
}

interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  hostUsers?: boolean;
  volumes?: Array<{ name: string; secret?: { secretName: string } }>;
}

function podSpec(doc: Doc): PodSpec | undefined {
  return (doc.spec as { template?: { spec: PodSpec } } | undefined)?.template?.spec;
}

function podContainers(doc: Doc): Container[] {
  return podSpec(doc)?.containers ?? [];
}

function deployment(name: string): Container {
  const [d] = byKind('Deployment', name);
  assert.ok(d, `Deployment ${name}`);
  const [c] = podContainers(d);
  assert.ok(c, `${name} has a container`);
  return c;
}

const defaults = loadConfig({});
const triageImageServices = ['api', 'worker'];

test('every manifest names its kind and a name, with no namespace (set at apply time)', () => {
  assert.ok(k8sDocs.length >= 7);
  for (const d of k8sDocs) {
    const meta = d.metadata as { name?: string; namespace?: string };
    assert.ok(d.apiVersion && d.kind && meta.name, JSON.stringify(d).slice(0, 80));
    assert.equal(meta.namespace, undefined, `${String(d.kind)} ${meta.name} has no namespace`);
  }
  for (const kind of ['ConfigMap', 'Secret', 'Deployment', 'Service', 'Job', 'ScaledObject']) assert.ok(byKind(kind).length > 0, kind);
});

test('images: every container and compose service names one; api and worker run the same image', () => {
  for (const d of k8sDocs) for (const c of podContainers(d)) assert.match(c.image ?? '', /^[\w./-]+(:[\w.-]+)$/, `${c.name} pins an image tag`);
  assert.equal(deployment('triage-api').image, deployment('triage-worker').image);
  for (const [name, svc] of Object.entries(compose.services)) assert.ok(svc.image || svc.build, `compose service ${name} has an image`);
  assert.equal(compose.services.api.image, compose.services.worker.image);
  assert.ok(compose.services.api.build, 'compose builds the image from the Dockerfile');
  for (const name of triageImageServices) assert.ok(compose.services[name].command?.join(' ').includes(`dist/apps/${name}/src/main.js`));
  // args, never command: command would replace the image's ENTRYPOINT (tini) and leave node as PID 1.
  for (const name of ['api', 'worker']) {
    const c = deployment(`triage-${name}`);
    assert.equal(c.command, undefined, `triage-${name} keeps the image's ENTRYPOINT`);
    assert.ok(c.args?.join(' ').includes(`dist/apps/${name}/src/main.js`));
  }
  assert.match(read('Dockerfile'), /^USER (?!root)\S+/m);
});

test('the API starts with the same node flags everywhere: Dockerfile, compose, k8s, npm run start:api, README', () => {
  const want = ['node', ...API_NODE_FLAGS, 'dist/apps/api/src/main.js'];
  const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
  assert.deepEqual(cmd ? JSON.parse(cmd) : undefined, want, 'Dockerfile CMD');
  assert.deepEqual(compose.services.api.command, want, 'compose api command');
  assert.deepEqual(deployment('triage-api').args, want, 'k8s triage-api args');
  const scripts = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  assert.equal(scripts.scripts['start:api'], want.join(' '), 'npm run start:api');
  for (const line of read('README.md').split('\n').filter((l) => l.includes('dist/apps/api/src/main.js'))) {
    assert.ok(line.includes(want.join(' ')), `README starts the API without its flags: ${line}`);
  }
});

test('Dockerfile: the build stage copies every script its build commands run, and the CLI it links is the bundle', () => {
  const dockerfile = read('Dockerfile');
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> });
  const run = [...dockerfile.matchAll(/npm run -s ([\w:-]+)/g)].map((m) => m[1]);
  assert.ok(run.length > 0, 'the image builds with npm scripts');
  for (const name of run) {
    const command = scripts.scripts[name];
    assert.ok(command, `package.json has the script ${name}`);
    for (const [, file] of command.matchAll(/\bnode (\S+\.m?js)\b/g)) {
      assert.match(dockerfile, new RegExp(`^COPY (?:\\S+ )*${file.replace(/[.]/g, '\\.')}(?: |$)`, 'm'), `the build stage copies ${file} (npm run ${name})`);
    }
  }
  assert.ok(dockerfile.includes(`ln -s /app/${scripts.bin.triage} /usr/local/bin/triage`), `the image links package.json's bin ${scripts.bin.triage}`);
});

test('Dockerfile: a Node LTS base pinned by digest, npm ci only, tini as PID 1, a HEALTHCHECK the image holds', () => {
  const dockerfile = read('Dockerfile');
  const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? '';
  const pinned = /^node:(\d+)-bookworm-slim@sha256:[0-9a-f]{64}$/.exec(base);
  assert.ok(pinned, `NODE_IMAGE is node:MAJOR-bookworm-slim@sha256:<64 hex>, not ${base}`);
  // Even majors are the LTS lines; 20 left support in April 2026.
  assert.ok(Number(pinned[1]) % 2 === 0 && Number(pinned[1]) >= 22, `node ${pinned[1]} is a supported LTS`);
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2 && froms.every((f) => f === '${NODE_IMAGE}'), `every stage builds FROM the pinned base: ${froms.join(', ')}`);
  assert.match(dockerfile, /^RUN npm ci --no-audit --no-fund$/m);
  for (const [file, text] of [['Dockerfile', dockerfile], ['scripts/install-deps.sh', read('scripts/install-deps.sh')]]) {
    assert.doesNotMatch(text, /npm install/, `${file} has no npm install fallback beside npm ci`);
  }
  assert.match(dockerfile, /apt-get install[^\n]*\btini\b/);
  assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  const check = /^HEALTHCHECK .*CMD \["node", "dist\/(apps\/api\/src\/healthcheck)\.js"\]$/m.exec(dockerfile);
  assert.ok(check, 'HEALTHCHECK runs the API healthcheck');
  assert.ok(existsSync(join(root, `${check[1]}.ts`)), `${check[1]}.ts exists`);
});

test('auth is on: compose and k8s give the API token entries from a secret, and compose binds to loopback', () => {
  const api = compose.services.api;
  assert.equal(api.environment?.TRIAGE_TOKENS_FILE, '/run/secrets/triage-tokens');
  assert.deepEqual(api.secrets, ['triage-tokens']);
  assert.ok(compose.secrets?.['triage-tokens']?.file, 'the compose secret names a file');
  for (const port of api.ports ?? []) assert.match(port, /^(\$\{TRIAGE_BIND:-127\.0\.0\.1\}|127\.0\.0\.1):/, `${port} is on loopback unless TRIAGE_BIND says otherwise`);
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const port of svc.ports ?? []) assert.match(port, /^(\$\{TRIAGE_BIND:-)?127\.0\.0\.1/, `compose ${name} publishes ${port} on loopback`);
  }
  const c = deployment('triage-api');
  const file = c.env?.find((e) => e.name === 'TRIAGE_TOKENS_FILE')?.value ?? '';
  const [d] = byKind('Deployment', 'triage-api');
  const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `TRIAGE_TOKENS_FILE ${file} is inside a mounted volume`);
  const secretName = podSpec(d)?.volumes?.find((v) => v.name === mount.name)?.secret?.secretName;
  assert.ok(secretName, 'that volume is a Secret');
  const [secret] = byKind('Secret', secretName);
  const key = file.slice(mount.mountPath.length + 1);
  const entries = (secret.stringData as Record<string, string>)[key];
  assert.ok(entries, `Secret ${secretName} has the key ${key}`);
  // The shipped entries load: auth is on with them (the placeholder matches no token until replaced).
  assert.ok(loadTokenEntries({ tokens: entries }).length > 0);
});

test('healthchecks: compose checks the api and the worker with scripts the image holds; k8s probes the worker', () => {
  for (const name of ['api', 'worker']) {
    const test = compose.services[name].healthcheck?.test ?? [];
    assert.deepEqual(test.slice(0, 2), ['CMD', 'node'], `compose ${name} has a healthcheck`);
    assert.equal(test[2], `dist/apps/${name}/src/healthcheck.js`);
    assert.ok(existsSync(join(root, `apps/${name}/src/healthcheck.ts`)));
  }
  assert.deepEqual(deployment('triage-worker').livenessProbe?.exec?.command, ['node', 'dist/apps/worker/src/healthcheck.js']);
});

test('the worker can sandbox its tools: a user namespace, unmasked /proc, no seccomp/AppArmor veto, still unprivileged', () => {
  const [d] = byKind('Deployment', 'triage-worker');
  assert.equal(podSpec(d)?.hostUsers, false);
  const sc = deployment('triage-worker').securityContext;
  assert.equal(sc?.procMount, 'Unmasked');
  assert.equal(sc?.seccompProfile?.type, 'Unconfined');
  assert.equal(sc?.appArmorProfile?.type, 'Unconfined');
  assert.equal(sc?.allowPrivilegeEscalation, false);
  assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
  const opts = compose.services.worker.security_opt ?? [];
  for (const o of ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined', 'no-new-privileges:true']) assert.ok(opts.includes(o), `compose worker: ${o}`);
  // Where a cluster cannot, the worker says so at start: the warning names the reason.
  assert.match(read('libs/security/src/sandbox-status.ts'), /SANDBOX UNAVAILABLE: \$\{reason\}/);
});

test('the API port is the config default everywhere', () => {
  assert.equal(defaults.port, 8080);
  const api = deployment('triage-api');
  assert.deepEqual(api.ports?.map((p) => p.containerPort), [defaults.port]);
  const [service] = byKind('Service', 'triage-api');
  const ports = (service.spec as { ports: Array<{ targetPort: number | string }> }).ports;
  assert.ok(ports.every((p) => p.targetPort === defaults.port || p.targetPort === 'http'));
  assert.ok(compose.services.api.ports?.some((p) => p.endsWith(`:${defaults.port}`)), 'compose publishes the API port');
  const configured = (byKind('ConfigMap', 'triage-config')[0].data as Record<string, string>).TRIAGE_PORT;
  if (configured !== undefined) assert.equal(Number(configured), defaults.port);
  const composePort = compose.services.api.environment?.TRIAGE_PORT;
  if (composePort !== undefined) assert.equal(Number(composePort), defaults.port);
  assert.match(read('Dockerfile'), new RegExp(`^EXPOSE ${defaults.port}$`, 'm'));
});

test('every environment variable the api and worker get is one libs/config reads', () => {
  const known = configKeys();
  const unknown = (names: string[], where: string) => assert.deepEqual(names.filter((n) => !known.has(n)), [], `${where} sets only config names`);
  for (const name of triageImageServices) unknown(Object.keys(compose.services[name].environment ?? {}), `compose ${name}`);
  const referenced = new Set<string>();
  for (const name of ['triage-api', 'triage-worker']) {
    const c = deployment(name);
    unknown((c.env ?? []).map((e) => e.name), name);
    for (const from of c.envFrom ?? []) referenced.add(from.configMapRef?.name ?? from.secretRef?.name ?? '');
  }
  for (const d of [...byKind('ConfigMap'), ...byKind('Secret')]) {
    const name = (d.metadata as { name: string }).name;
    if (!referenced.has(name)) continue;
    unknown(Object.keys({ ...(d.data as object), ...(d.stringData as object) }), `${String(d.kind)} ${name}`);
  }
  assert.ok(referenced.has('triage-config') && referenced.has('triage-secrets'));
  // And the values parse: the config the pods would get loads.
  const cm = byKind('ConfigMap', 'triage-config')[0].data as Record<string, string>;
  const secret = byKind('Secret', 'triage-secrets')[0].stringData as Record<string, string>;
  assert.equal(loadConfig({ ...cm, ...secret }).storage.kind, 's3');
  assert.equal(loadConfig(Object.fromEntries(Object.entries(compose.services.worker.environment ?? {}).map(([k, v]) => [k, String(v)]))).storage.kind, 's3');
});

test('probes: readiness /readyz and liveness /healthz, both served by the API', () => {
  const api = deployment('triage-api');
  assert.equal(api.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(api.livenessProbe?.httpGet?.path, '/healthz');
  const controllers = readdirSync(join(root, 'apps/api/src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.controller.ts'))
    .map((f) => read(join('apps/api/src', f)))
    .join('\n');
  for (const path of ['healthz', 'readyz']) assert.match(controllers, new RegExp(`@Get\\(['"]/?${path}['"]\\)`), `the API serves /${path}`);
});

test('resources are set for the api and the worker', () => {
  for (const name of ['triage-api', 'triage-worker']) {
    const r = deployment(name).resources;
    assert.ok(r?.requests?.cpu && r.requests.memory && r.limits?.memory, `${name} has requests and a memory limit`);
  }
});

test('KEDA scales the worker on the BullMQ wait list of the configured prefix', () => {
  const [so] = byKind('ScaledObject');
  const spec = so.spec as { scaleTargetRef: { name: string }; triggers: Array<{ type: string; metadata: Record<string, string> }> };
  assert.equal(spec.scaleTargetRef.name, 'triage-worker');
  const redis = spec.triggers.find((t) => t.type === 'redis');
  assert.ok(redis);
  const prefix = (byKind('ConfigMap', 'triage-config')[0].data as Record<string, string>).TRIAGE_REDIS_PREFIX ?? defaults.redisPrefix;
  assert.equal(redis.metadata.listName, waitListKey(prefix));
  assert.ok(Number(redis.metadata.listLength) > 0);
});

test('the bucket-init Job creates the configured bucket', () => {
  const [job] = byKind('Job');
  const [c] = podContainers(job);
  const script = (c.command ?? []).join(' ');
  assert.match(script, /mc .*mb --ignore-existing/);
  assert.match(script, /\$S3_BUCKET/);
  assert.match(compose.services['minio-init'] ? JSON.stringify(compose.services['minio-init']) : '', /mb --ignore-existing \S+\/triage/);
});

test('the API is given longer to stop than it drains for (k8s and compose)', () => {
  const drainSeconds = defaults.drainTimeoutMs / 1000;
  const [d] = byKind('Deployment', 'triage-api');
  assert.ok((podSpec(d)?.terminationGracePeriodSeconds ?? 30) > drainSeconds, 'k8s grace period above the drain timeout');
  const grace = /^(\d+)s$/.exec(compose.services.api.stop_grace_period ?? '');
  assert.ok(grace && Number(grace[1]) > drainSeconds, 'compose stop_grace_period above the drain timeout');
});
