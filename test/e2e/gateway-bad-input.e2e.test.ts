import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { localDynamoClient } from '../../local/dynamo.ts';
import { LOCAL_TABLE } from '../../local/env.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * Bad input over real HTTP through the local runtime's gateway layer (which the handler-level
 * `test/contract/bad-input.db.test.ts` never reaches): malformed percent-escapes in path parameters
 * and bodies over the 10 MB limit get a 4xx naming the problem, and nothing is written.
 */
const SEED = Number(process.env.BAD_INPUT_SEED ?? 20261205);
const MAX = 10 * 1024 * 1024;

let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
let countItems: () => Promise<number>;

beforeAll(async () => {
  runtime = await startTestRuntime({ autoRun: false });
  const { dynamoEndpoint } = JSON.parse(readFileSync(join(runtime.dataDir, 'runtime.json'), 'utf8'));
  const low = localDynamoClient(dynamoEndpoint);
  countItems = async () => {
    let n = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await low.send(
        new ScanCommand({ TableName: LOCAL_TABLE, Select: 'COUNT', ExclusiveStartKey: start as never }),
      );
      n += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return n;
  };
}, 60_000);
afterAll(() => runtime?.cleanup());

const paramRoutes = wiring.routes.filter((r) => r.path.includes('{'));
const params = (path: string) => [...path.matchAll(/\{([^}+]+)\+?\}/g)].map((m) => m[1]!);

function fill(path: string, bad: string, which: string): string {
  return path.replace(/\{([^}+]+)\+?\}/g, (_, name: string) => (name === which ? bad : 'x1'));
}

describe('gateway: malformed percent-escape in a path parameter', () => {
  it('GET /v1/orders/%ZZ is a 400 naming orderId (not a 500)', async () => {
    const res = await fetch(`${runtime.url}/v1/orders/%ZZ`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error?: string; message: string; details?: unknown };
    expect(body.error).toBe('VALIDATION_FAILED');
    expect(body.message).toContain('orderId');
    expect(body.details).toEqual([expect.objectContaining({ field: 'path.orderId' })]);
  });

  it('any route, any parameter, any malformed escape: 400 naming the parameter, nothing written', async () => {
    const before = await countItems();
    const events = runtime.bus.events({ limit: 1000 }).length;
    const badEscape = fc.oneof(
      fc.constantFrom('%', '%Z', '%ZZ', '%G0', '%E0%A4', '%C3', '%FF', '%ED%A0%80'),
      fc
        .tuple(fc.stringMatching(/^[A-Za-z0-9_-]{0,6}$/), fc.constantFrom('%', '%zz', '%C3(', '%80'))
        .map(([a, b]) => `${a}${b}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...paramRoutes)
          .chain((r) => fc.tuple(fc.constant(r), fc.constantFrom(...params(r.path)))),
        badEscape,
        async ([route, name], bad) => {
          const res = await fetch(`${runtime.url}${fill(route.path, bad, name)}`, {
            method: route.method,
            ...(route.method === 'GET' || route.method === 'DELETE'
              ? {}
              : { body: '{}', headers: { 'content-type': 'application/json' } }),
          });
          const body = (await res.json()) as { error?: string; message: string; details?: unknown };
          expect(res.status, `${route.method} ${route.path} ${bad}`).toBe(400);
          expect(body.message).toContain(name);
        },
      ),
      { seed: SEED, numRuns: 25 },
    );
    expect(await countItems()).toBe(before);
    expect(runtime.bus.events({ limit: 1000 }).length).toBe(events);
  }, 120_000);
});

describe('gateway: body over 10 MB', () => {
  it('a no-body route (rotate-secret) with an 11 MB body is refused with 413 and does not run', async () => {
    const token = await runtime.token('platform');
    const before = await countItems();
    const invocations = JSON.stringify(runtime.lambdas.stats);
    const res = await fetch(`${runtime.url}/v1/webhooks/endpoints/whe_1/rotate-secret`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Buffer.alloc(MAX + 1024 * 1024, 0x20),
    });
    expect(res.status).toBe(413);
    expect(JSON.stringify(runtime.lambdas.stats)).toBe(invocations);
    expect(await countItems()).toBe(before);
  }, 60_000);

  it('property: oversize bodies on any POST route are 413 before any handler runs', async () => {
    const token = await runtime.token('platform');
    const before = await countItems();
    const invocations = JSON.stringify(runtime.lambdas.stats);
    const posts = wiring.routes.filter((r) => r.method === 'POST' || r.method === 'PUT');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...posts),
        fc.integer({ min: 1, max: 64 * 1024 }),
        async (route, extra) => {
          const res = await fetch(`${runtime.url}${route.path.replace(/\{[^}]+\}/g, 'x1')}`, {
            method: route.method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: Buffer.alloc(MAX + extra, 0x20),
          });
          expect(res.status, `${route.method} ${route.path}`).toBe(413);
          expect(((await res.json()) as { message: string }).message).toMatch(/too large/i);
        },
      ),
      { seed: SEED, numRuns: 4 },
    );
    expect(JSON.stringify(runtime.lambdas.stats)).toBe(invocations);
    expect(await countItems()).toBe(before);
  }, 120_000);
});

describe('local-receiver sample', () => {
  it('registers a receiver on this runtime whatever its port ({{localUrl}} is resolved)', async () => {
    expect(runtime.port).not.toBe(3000);
    const sample = readFileSync(
      join(import.meta.dirname, '../../events/api/webhooks-endpoints/local-receiver.json'),
      'utf8',
    );
    expect(sample).toContain('{{localUrl}}');
    const res = await fetch(`${runtime.url}/v1/webhooks/endpoints`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await runtime.token('platform')}`,
        'content-type': 'application/json',
      },
      body: sample,
    });
    const body = (await res.json()) as { url: string };
    expect(res.status).toBe(201);
    expect(body.url).toBe(`${runtime.url}/_sandbox/receiver/demo`);
  }, 60_000);
});
