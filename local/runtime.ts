import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { buildConsole, consoleSecurityHeaders } from '../console/build.ts';
import { RotationTooSoonError, rotationStep } from '../functions/signing-key-rotator/rotation.ts';
import { wiring as defaultWiring } from '../infra/wiring.ts';
import type { SecretName, Wiring } from '../infra/wiring-types.ts';
import { ClientRepository } from '../shared/auth/clients.ts';
import { keySetSchema } from '../shared/auth/keyset.ts';
import { OperatorRepository } from '../shared/auth/operators.ts';
import { clearSecretsCache } from '../shared/aws/secrets.ts';
import { advanceClock, clockOffsetMs, nowMs, restoreClockOffset, systemClock } from '../shared/clock.ts';
import { createDocumentClient } from '../shared/db/client.ts';
import { backfillIndexes, INDEX_LAYOUT_VERSION, indexLayoutVersion } from '../shared/db/index-backfill.ts';
import {
  buildEvent,
  compileRoutes,
  gatewayAnswer,
  type HttpResult,
  mapResult,
  matchRoute,
} from './api-gateway.ts';
import { handleAwsRequest, type MoveTask } from './aws-emulator.ts';
import { LocalEventBus } from './bus/event-bus.ts';
import { LocalQueue } from './bus/queue.ts';
import { LocalScheduler } from './bus/scheduler.ts';
import { fetchDevToken } from './cli/common.ts';
import { type DevClient, type DevOperator, ensureDevClients, ensureDevOperator } from './dev-clients.ts';
import { type DocsFile, docsFiles, docsSecurityHeaders } from './docs.ts';
import { localDynamoClient, openLocalTable, startEmbeddedDynamo } from './dynamo.ts';
import { functionEnvironments, LOCAL_BUS, LOCAL_TABLE, localEnvironment, localSecretArn } from './env.ts';
import { LocalKms } from './kms.ts';
import { LambdaTimeoutError, LocalLambdas } from './lambda.ts';
import { sandboxFactories } from './sandboxes/index.ts';
import type { Sandbox } from './sandboxes/kit.ts';
import { createMailSandbox } from './sandboxes/mail.ts';
import { LocalSecretVersions } from './secret-versions.ts';
import { localSecretValues } from './secrets.ts';
import { ensureLocalSigningKeys, saveLocalSigningKeys } from './signing-key.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway HTTP API payload limit
/** How long `POST /_local/clock` waits for the work that became due before answering. */
const CLOCK_SETTLE_MS = 2_000;
/** Replaced by the runtime's own base URL in JSON request bodies (see handleApi). */
export const LOCAL_URL_PLACEHOLDER = '{{localUrl}}';

export interface RuntimeOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Where dynalite, queues, sandboxes, keys and dev clients persist (default `.switchboard`). */
  dataDir?: string;
  /** No request log lines. */
  quiet?: boolean;
  wiring?: Wiring;
  /** Seedable randomness for sandbox fault injection. */
  random?: () => number;
  /** Start queue pollers and the scheduler timers (default true; tests may pump by hand). */
  autoRun?: boolean;
  /** Load every function before answering requests (`npm start` does; tests load lazily). */
  warm?: boolean;
}

export interface Runtime {
  url: string;
  port: number;
  dataDir: string;
  devClients: DevClient[];
  /** The seeded operator who signs in to the console (`/console/`). */
  devOperator: DevOperator;
  lambdas: LocalLambdas;
  bus: LocalEventBus;
  queues: Map<string, LocalQueue>;
  scheduler: LocalScheduler;
  sandbox(name: string): Sandbox<object>;
  /** Names of the mounted sandboxes (`/_sandbox/<name>`). */
  sandboxNames: string[];
  /** What this runtime actually serves, read from its live structures (compared with the CDK stack in tests). */
  tables(): {
    routes: Array<{ routeKey: string; functionName: string }>;
    rules: Array<{ name: string; pattern: Record<string, unknown>; consumer: string }>;
    schedules: Array<{ name: string; expression: string; consumer: string }>;
  };
  /** A bearer token of the dev client of `kind` (`distributor`, `zuora`, `platform`) or tenant. */
  token(kindOrTenant: string, scope?: string): Promise<string>;
  /** Until every queue is empty and idle (or the timeout). */
  drain(timeoutMs?: number): Promise<void>;
  advanceClock(seconds: number): Promise<void>;
  runSchedule(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the whole suite in this process: dynalite (persisted under `dataDir`), the table from the
 * shared definition, the manifest's functions behind an API Gateway emulation, the AWS APIs they call
 * (EventBridge, Secrets Manager, SQS, SESv2), the bus with the manifest's rules delivering through
 * emulated queues, the schedules, every partner sandbox and the local controls under `/_local`.
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const wiring = options.wiring ?? defaultWiring;
  const dataDir = resolve(options.dataDir ?? process.env.SWITCHBOARD_DATA_DIR ?? '.switchboard');
  mkdirSync(dataDir, { recursive: true });
  // The simulated time continues where the last run left it (never jumps back after a restart).
  const clockFile = join(dataDir, 'clock.json');
  restorePersistedClock(clockFile);
  const log = (line: string) => {
    if (!options.quiet) process.stdout.write(`${line}\n`);
  };

  const dynamo = await startEmbeddedDynamo({ path: join(dataDir, 'dynamo') });
  const low = localDynamoClient(dynamo.endpoint);
  // A data folder from before the operations indexes (or before atomic item writes): copied once.
  await openLocalTable(low, LOCAL_TABLE, dataDir, log);
  const layoutDoc = createDocumentClient(low);
  if ((await indexLayoutVersion(layoutDoc, LOCAL_TABLE)) < INDEX_LAYOUT_VERSION) {
    await backfillIndexes(layoutDoc, LOCAL_TABLE);
  }
  const signingKeys = await ensureLocalSigningKeys(dataDir);
  const kms = LocalKms.fromDataDir(dataDir);

  // The HTTP server comes first: its port is part of every URL handed to the functions.
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const env = localEnvironment({
    wiring,
    runtimeUrl: url,
    dynamoEndpoint: dynamo.endpoint,
  });
  for (const [k, v] of Object.entries(env)) {
    // Partner URLs already set in the shell win: pointing an integration at a real service is configuration.
    if (k.endsWith('_BASE_URL') && process.env[k]) continue;
    process.env[k] = v;
  }

  const sandboxCtx = (name: string) => ({
    runtimeUrl: url,
    baseUrl: `${url}/_sandbox/${name}`,
    clock: systemClock,
    dataDir: join(dataDir, 'sandboxes'),
    random: options.random ?? Math.random,
  });
  const sandboxes = new Map<string, Sandbox<object>>();
  sandboxes.set('mail', createMailSandbox(sandboxCtx('mail')));
  for (const [name, factory] of Object.entries(sandboxFactories))
    sandboxes.set(name, factory(sandboxCtx(name)));

  const secretOverrides =
    readJsonFile<Record<string, Record<string, unknown>>>(join(dataDir, 'secrets.json')) ?? {};
  const secrets = new Map<string, Record<string, unknown>>();
  // The signing key set rotates locally too: a versioned secret whose every new AWSCURRENT is saved.
  const signingKeyArn = localSecretArn('auth-signing-key');
  const secretVersions = new LocalSecretVersions((id, value) => {
    if (id === signingKeyArn) saveLocalSigningKeys(dataDir, keySetSchema.parse(JSON.parse(value)));
  });
  secretVersions.init(signingKeyArn, JSON.stringify(signingKeys));
  const rotationClient = new SecretsManagerClient({
    endpoint: `${url}/_aws`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  /** What Secrets Manager does on RotateSecret: a pending version, then the rotator's four steps. */
  const rotateSecret = async (id: string): Promise<string> => {
    const token = secretVersions.startRotation(id);
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await rotationStep(
        { SecretId: id, ClientRequestToken: token, Step },
        { sm: rotationClient, now: () => systemClock.now() },
      );
    }
    clearSecretsCache();
    return token;
  };
  for (const name of Object.keys(wiring.secrets) as SecretName[]) {
    const value = secretOverrides[name] ?? localSecretValues[name]?.();
    if (value) secrets.set(localSecretArn(name), value);
  }

  const lambdas = new LocalLambdas(wiring.functions, REPO_ROOT, functionEnvironments(wiring));
  const queues = new Map<string, LocalQueue>();
  for (const [name, spec] of Object.entries(wiring.queues)) {
    const consumer = wiring.functions[spec.consumer];
    queues.set(
      name,
      new LocalQueue({
        spec: { name, ...spec },
        consumer: (event: SQSEvent) =>
          lambdas.invoke(spec.consumer, event) as Promise<SQSBatchResponse | undefined>,
        persistPath: join(dataDir, 'queues', `${name}.json`),
        invocationTimeoutMs: (consumer?.timeoutSeconds ?? 30) * 1000 + 1000,
        onBatchError: (error, info) => {
          if (!options.quiet)
            process.stderr.write(
              `[queue ${info.queue}] batch of ${info.messageIds.length} failed: ${(error as Error).message ?? error}\n`,
            );
        },
      }),
    );
  }
  const bus = new LocalEventBus({
    name: LOCAL_BUS,
    rules: wiring.rules,
    targets: (queue) => queues.get(queue),
  });
  const scheduler = new LocalScheduler({
    schedules: wiring.schedules,
    invoke: async (spec, input) => {
      await lambdas.invoke(spec.function, input);
    },
    onError: (error, fired) => {
      if (!options.quiet)
        process.stderr.write(`[schedule ${fired.schedule}] ${(error as Error).message ?? error}\n`);
    },
  });

  const routes = compileRoutes(wiring.routes);
  // The operator console, built from source on first request (esbuild, ~0.2 s) and kept in memory.
  let consoleFiles: ReturnType<typeof buildConsole> | undefined;
  async function serveConsole(path: string): Promise<HttpResult> {
    if (path === '/console') {
      return { status: 301, headers: { location: '/console/' }, cookies: [], body: Buffer.alloc(0) };
    }
    consoleFiles ??= buildConsole();
    const files = await consoleFiles;
    const name = path.slice('/console/'.length) || 'index.html';
    const file =
      name === 'config.json'
        ? { body: Buffer.from(JSON.stringify({ apiUrl: '' })), contentType: 'application/json' }
        : (files.get(name) ?? (name.includes('.') ? undefined : files.get('index.html')));
    return staticFile(file, consoleSecurityHeaders());
  }
  /** A static file of the console or the API reference (404 when there is none). */
  function staticFile(
    file: { body: Buffer; contentType: string } | undefined,
    securityHeaders: Record<string, string>,
  ): HttpResult {
    if (!file)
      return {
        status: 404,
        headers: { 'content-type': 'text/plain' },
        cookies: [],
        body: Buffer.from('Not Found'),
      };
    return {
      status: 200,
      headers: { 'content-type': file.contentType, 'cache-control': 'no-cache', ...securityHeaders },
      cookies: [],
      body: file.body,
    };
  }
  // The API reference (Swagger UI over GET /openapi.json), read from swagger-ui-dist on first request.
  let docs: Map<string, DocsFile> | undefined;
  function serveDocs(path: string): HttpResult {
    if (path === '/docs')
      return { status: 301, headers: { location: '/docs/' }, cookies: [], body: Buffer.alloc(0) };
    docs ??= docsFiles('/openapi.json');
    return staticFile(docs.get(path.slice('/docs/'.length) || 'index.html'), docsSecurityHeaders());
  }
  const moveTasks = new Map<string, MoveTask[]>();
  const mail = sandboxes.get('mail')!;

  async function handleApi(
    req: IncomingMessage,
    path: string,
    query: string,
    body: Buffer,
  ): Promise<HttpResult> {
    const match = matchRoute(routes, req.method ?? 'GET', path);
    if (match.kind === 'not-found') return gatewayAnswer.notFound();
    if (match.kind === 'bad-parameter') return gatewayAnswer.badPathParameter(match.name);
    // Local only: `{{localUrl}}` in a JSON body is this runtime's own URL, so samples such as
    // events/api/webhooks-endpoints/local-receiver.json work whatever port the suite runs on.
    const resolved =
      body.includes(LOCAL_URL_PLACEHOLDER) && /json/i.test(req.headers['content-type'] ?? '')
        ? Buffer.from(body.toString('utf8').replaceAll(LOCAL_URL_PLACEHOLDER, url))
        : body;
    const event = buildEvent({
      route: match.route,
      pathParameters: match.pathParameters,
      method: req.method ?? 'GET',
      path,
      rawQueryString: query,
      rawHeaders: req.rawHeaders,
      body: resolved,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      now: systemClock.now(),
    });
    try {
      return mapResult(await lambdas.invoke(match.route.spec.function, event));
    } catch (error) {
      process.stderr.write(`[${match.route.spec.function}] ${(error as Error).stack ?? error}\n`);
      return error instanceof LambdaTimeoutError ? gatewayAnswer.timeout() : gatewayAnswer.internal();
    }
  }

  async function handleLocal(method: string, path: string, body: Buffer): Promise<HttpResult> {
    const reply = (status: number, value: unknown): HttpResult => ({
      status,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(JSON.stringify(value)),
    });
    const schedule = /^\/_local\/schedules\/([\w-]+)$/.exec(path);
    if (method === 'POST' && schedule) {
      const name = schedule[1]!;
      if (!wiring.schedules.some((s) => s.name === name))
        return reply(404, { error: 'NOT_FOUND', message: `no schedule ${name}` });
      await scheduler.runNow(name);
      return reply(200, { ran: name });
    }
    if (method === 'GET' && path === '/_local/schedules') return reply(200, scheduler.status());
    if (method === 'POST' && path === '/_local/rotate-signing-key') {
      let versionId: string;
      try {
        versionId = await rotateSecret(signingKeyArn);
      } catch (error) {
        if (!(error instanceof RotationTooSoonError)) throw error;
        return reply(409, { error: 'ROTATION_TOO_SOON', message: error.message, retryAt: error.retryAt });
      }
      const set = keySetSchema.parse(JSON.parse(secretVersions.get(signingKeyArn)?.value ?? 'null'));
      return reply(200, {
        versionId,
        previous: set.previous?.kid,
        current: set.current.kid,
        next: set.next.kid,
      });
    }
    if (method === 'POST' && path === '/_local/clock') {
      let seconds: unknown;
      try {
        seconds = (JSON.parse(body.toString('utf8') || '{}') as { advanceSeconds?: unknown }).advanceSeconds;
      } catch {
        return reply(400, { error: 'MALFORMED_JSON', message: 'body must be {"advanceSeconds": n}' });
      }
      if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
        return reply(400, {
          error: 'VALIDATION_FAILED',
          message: 'advanceSeconds must be a non-negative number',
        });
      }
      // The clock moves at once; what became due runs in the background. The answer waits for that
      // work at most CLOCK_SETTLE_MS, so a consumer retrying against a faulty sandbox (a held
      // "timeout" fault lasts the function's timeout) cannot hold the caller.
      const settled = await Promise.race([
        runtime.advanceClock(seconds).then(
          () => true,
          () => true,
        ),
        new Promise<false>((ok) => setTimeout(() => ok(false), CLOCK_SETTLE_MS).unref()),
      ]);
      return reply(200, {
        now: systemClock.now().toISOString(),
        offsetSeconds: clockOffsetMs() / 1000,
        settled,
      });
    }
    if (method === 'GET' && path === '/_local/clock')
      return reply(200, { now: systemClock.now().toISOString(), offsetSeconds: clockOffsetMs() / 1000 });
    if (method === 'GET' && path === '/_local/events') return reply(200, bus.events({ limit: 200 }));
    if (method === 'GET' && path === '/_local/queues') {
      return reply(200, Object.fromEntries([...queues].map(([n, q]) => [n, q.stats()])));
    }
    const redrive = /^\/_local\/queues\/([\w-]+)\/redrive$/.exec(path);
    if (method === 'POST' && redrive) {
      const q = queues.get(redrive[1]!);
      if (!q) return reply(404, { error: 'NOT_FOUND', message: `no queue ${redrive[1]}` });
      return reply(200, { redriven: q.redrive() });
    }
    if (method === 'GET' && path === '/_local') {
      return reply(200, {
        url,
        dataDir,
        functions: Object.keys(wiring.functions),
        sandboxes: [...sandboxes.keys()],
        lambdas: lambdas.stats,
      });
    }
    return reply(404, { error: 'NOT_FOUND', message: `no local control ${method} ${path}` });
  }

  // Until the dev clients, runtime.json and (with `warm`) every function are ready, the server
  // answers 503 {"status":"starting"} — except the emulated AWS APIs, which start-up itself may use.
  let ready = false;
  const starting = Buffer.from(JSON.stringify({ status: 'starting' }));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!ready && !(req.url ?? '').startsWith('/_aws')) {
      req.resume();
      res.writeHead(503, {
        'content-type': 'application/json',
        'retry-after': '1',
        'content-length': String(starting.length),
      });
      res.end(starting);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Past the limit nothing more is kept; `size` still counts every byte so the request is refused.
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', async () => {
      const started = Date.now();
      const body = Buffer.concat(chunks);
      const [rawPath = '/', query = ''] = (req.url ?? '/').split(/\?(.*)/s);
      const path = rawPath.replace(/\/{2,}/g, '/');
      const method = req.method ?? 'GET';
      let result: HttpResult;
      try {
        if (size > MAX_BODY_BYTES) {
          // Like API Gateway: refused before routing, so no handler, sandbox or control runs.
          result = gatewayAnswer.tooLarge();
        } else if (path.startsWith('/_aws')) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
          const r = await handleAwsRequest(
            {
              putEvents: (entries) => bus.putEvents(entries),
              secret: (id) => secrets.get(id) ?? secrets.get(localSecretArn(id as SecretName)),
              versions: secretVersions,
              rotate: rotateSecret,
              kms,
              sendMessage: (queueUrl, messageBody, delaySeconds) => {
                const q = queues.get(queueUrl.split('/').pop() ?? '');
                return q?.send(messageBody, delaySeconds !== undefined ? { delaySeconds } : {});
              },
              mail,
              queue: (ref) => {
                const name = ref.split(/[/:]/).pop() ?? '';
                const own = queues.get(name);
                if (own) return { queue: own, dead: false };
                const source = name.endsWith('-dlq') ? queues.get(name.slice(0, -4)) : undefined;
                return source ? { queue: source, dead: true } : undefined;
              },
              moveTasks,
              now: nowMs,
            },
            { method, path, headers, body: body.toString('utf8') },
          );
          result = { status: r.status, headers: r.headers, cookies: [], body: Buffer.from(r.body) };
        } else if (path.startsWith('/_sandbox/')) {
          const abort = new AbortController();
          res.once('close', () => {
            if (!res.writableEnded) abort.abort();
          });
          result = await handleSandbox(sandboxes, req, path, query, body, abort.signal);
        } else if (path === '/console' || path.startsWith('/console/')) {
          result = await serveConsole(path);
        } else if (path === '/docs' || path.startsWith('/docs/')) {
          result = serveDocs(path);
        } else if (path === '/_local' || path.startsWith('/_local/')) {
          result = await handleLocal(method, path, body);
        } else {
          result = await handleApi(req, path, query, body);
        }
      } catch (error) {
        process.stderr.write(`local runtime error: ${(error as Error).stack ?? error}\n`);
        result = gatewayAnswer.internal();
      }
      if (!path.startsWith('/_aws')) log(`${method} ${path} → ${result.status} (${Date.now() - started} ms)`);
      if (res.destroyed) return;
      const headers: Record<string, string | string[]> = {
        ...result.headers,
        'content-length': String(result.body.length),
      };
      if (result.cookies.length) headers['set-cookie'] = result.cookies;
      res.writeHead(result.status, headers);
      res.end(result.body);
    });
  });

  const repo = new ClientRepository(createDocumentClient(low), LOCAL_TABLE);
  const devClients = await ensureDevClients(repo, dataDir);
  const devOperator = await ensureDevOperator(
    new OperatorRepository(createDocumentClient(low), LOCAL_TABLE),
    dataDir,
  );
  if (options.warm) await lambdas.warm();
  writeFileSync(
    join(dataDir, 'runtime.json'),
    JSON.stringify(
      { pid: process.pid, url, dynamoEndpoint: dynamo.endpoint, tableName: LOCAL_TABLE },
      null,
      2,
    ),
  );

  if (options.autoRun ?? true) {
    for (const q of queues.values()) q.start();
    scheduler.start();
  }
  ready = true;

  let stopped = false;
  const runtime: Runtime = {
    url,
    port,
    dataDir,
    devClients,
    devOperator,
    lambdas,
    bus,
    queues,
    scheduler,
    sandboxNames: [...sandboxes.keys()],
    tables() {
      return {
        routes: routes.map((r) => ({ routeKey: r.routeKey, functionName: r.spec.function })),
        rules: bus
          .ruleSpecs()
          .map((r) => ({ name: r.name, pattern: r.pattern, consumer: wiring.queues[r.queue]!.consumer })),
        schedules: scheduler
          .status()
          .map((s) => ({ name: s.name, expression: s.expression, consumer: s.function })),
      };
    },
    sandbox(name) {
      const s = sandboxes.get(name);
      if (!s) throw new Error(`no sandbox ${name}`);
      return s;
    },
    async token(kindOrTenant, scope) {
      const client =
        devClients.find((c) => c.kind === kindOrTenant) ?? devClients.find((c) => c.tenant === kindOrTenant);
      if (!client) throw new Error(`no dev client ${kindOrTenant}`);
      return fetchDevToken(url, client, scope);
    },
    async drain(timeoutMs = 30_000) {
      // Idle = nothing visible and no batch running in any queue, twice in a row (a consumer may
      // publish into another queue). Delayed messages wait for the clock (`advanceClock`).
      const until = Date.now() + timeoutMs;
      let quietRounds = 0;
      while (quietRounds < 2) {
        await Promise.all([...queues.values()].map((q) => q.pump()));
        const busy = [...queues.values()].some((q) => {
          const st = q.stats();
          return st.visible > 0 || st.batchesInFlight > 0;
        });
        quietRounds = busy ? 0 : quietRounds + 1;
        if (Date.now() > until) throw new Error('queues did not drain in time');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async advanceClock(seconds) {
      persistClock(clockFile, advanceClock(seconds * 1000));
      await scheduler.tick();
      await Promise.all([...queues.values()].map((q) => q.pump()));
    },
    async runSchedule(name) {
      await scheduler.runNow(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await scheduler.stop();
      await Promise.all([...queues.values()].map((q) => q.stop()));
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      for (const s of sandboxes.values()) s.flush();
      low.destroy();
      await dynamo.stop();
      rmSync(join(dataDir, 'runtime.json'), { force: true });
    },
  };
  return runtime;
}

async function handleSandbox(
  sandboxes: Map<string, Sandbox<object>>,
  req: IncomingMessage,
  path: string,
  query: string,
  body: Buffer,
  /** Aborted when the caller goes away (a held "timeout" fault stops holding). */
  signal: AbortSignal,
): Promise<HttpResult> {
  const [, , name = '', ...rest] = path.split('/');
  const sandbox = sandboxes.get(name);
  const notFound = (message: string): HttpResult => ({
    status: 404,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(JSON.stringify({ error: 'NOT_FOUND', message })),
  });
  if (!sandbox) return notFound(`no sandbox ${name}; sandboxes: ${[...sandboxes.keys()].join(', ')}`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const answer = await sandbox.handle(
    {
      method: req.method ?? 'GET',
      path: `/${rest.join('/')}`,
      query: new URLSearchParams(query),
      headers,
      body,
      text: () => body.toString('utf8'),
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
    },
    signal,
  );
  if (!answer) return notFound(`sandbox ${name} has no route ${req.method} /${rest.join('/')}`);
  const isText = typeof answer.body === 'string';
  const payload =
    answer.body === undefined ? '' : isText ? (answer.body as string) : JSON.stringify(answer.body);
  return {
    status: answer.status,
    headers: {
      ...(answer.body === undefined
        ? {}
        : { 'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json' }),
      ...(answer.headers ?? {}),
    },
    cookies: [],
    body: Buffer.from(payload),
  };
}

function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** `clock.json` in the data folder: the hub clock offset, written atomically on every move. */
function persistClock(file: string, offsetMs: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ offsetMs, simulatedNow: new Date(nowMs()).toISOString() }));
  renameSync(temp, file);
}

function restorePersistedClock(file: string): void {
  const saved = readJsonFile<{ offsetMs?: unknown; simulatedNow?: unknown }>(file);
  if (!saved) return;
  if (typeof saved.offsetMs === 'number') restoreClockOffset(saved.offsetMs);
  // If the machine's clock was set back meanwhile, the offset alone would move time back.
  const last = typeof saved.simulatedNow === 'string' ? Date.parse(saved.simulatedNow) : Number.NaN;
  if (Number.isFinite(last) && last > nowMs()) restoreClockOffset(last - Date.now());
}
