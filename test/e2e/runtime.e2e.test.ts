import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

type TestRuntime = Awaited<ReturnType<typeof startTestRuntime>>;

describe('the local runtime over real HTTP', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(async () => rt.cleanup());

  it('serves /health and an OpenAPI 3.1 document listing every manifest route', async () => {
    expect((await api(rt, 'GET', '/health')).body.status).toBe('ok');
    const doc = (await api(rt, 'GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const r of wiring.routes)
      expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
  });

  it('issues a token to a dev client and lets it call a protected route; refuses without one', async () => {
    const route = wiring.routes.find(
      (r) =>
        r.auth === 'jwt' &&
        r.method === 'GET' &&
        !r.path.includes('{') &&
        r.scopes.every((s) =>
          (rt.devClients.find((c) => c.kind === 'platform')!.scopes as string[]).includes(s),
        ),
    );
    expect(route, 'a protected GET route the platform client may call').toBeDefined();
    const token = await rt.token('platform');
    const ok = await api(rt, 'GET', route!.path, { token });
    expect(ok.status).toBeLessThan(300);
    const refused = await api(rt, 'GET', route!.path);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBeDefined();
  });

  it('writes dev-clients.json and answers unknown paths as API Gateway does', async () => {
    const { readFile } = await import('node:fs/promises');
    const clients = JSON.parse(await readFile(`${rt.dataDir}/dev-clients.json`, 'utf8'));
    expect(clients.map((c: { kind: string }) => c.kind).sort()).toEqual([
      'distributor',
      'operator',
      'ops',
      'platform',
      'zuora',
    ]);
    expect(Object.keys(clients.find((c: { kind: string }) => c.kind === 'operator')).sort()).toEqual([
      'kind',
      'password',
      'username',
    ]);
    const missing = await api(rt, 'GET', '/v9/nothing');
    expect(missing).toMatchObject({ status: 404, body: { message: 'Not Found' } });
  });

  it('moves the clock forward and refuses bad clock input', async () => {
    const before = (await api(rt, 'GET', '/_local/clock')).body.offsetSeconds;
    const moved = await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: 3600 } });
    expect(moved.status).toBe(200);
    expect(moved.body.offsetSeconds).toBe(before + 3600);
    expect((await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: -5 } })).status).toBe(400);
    expect((await api(rt, 'POST', '/_local/clock', { body: '{oops' })).status).toBe(400);
  });

  it('runs a schedule on demand and refuses unknown ones', async () => {
    expect((await api(rt, 'POST', '/_local/schedules/no-such-schedule')).status).toBe(404);
    const first = wiring.schedules[0];
    if (first) expect((await api(rt, 'POST', `/_local/schedules/${first.name}`)).status).toBe(200);
  });

  it('accepts PutEvents from the unchanged AWS SDK and archives the envelope', async () => {
    const client = new EventBridgeClient({
      endpoint: `${rt.url}/_aws`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'switchboard-local',
            Source: 'test.probe',
            DetailType: 'probe.sent',
            Detail: '{"n":1}',
          },
          { Source: 'x', DetailType: 'y', Detail: 'not json' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[1]?.ErrorCode).toBeDefined();
    const events = (await api(rt, 'GET', '/_local/events')).body as Array<{
      envelope?: { 'detail-type': string };
      event?: { 'detail-type': string };
    }>;
    expect(JSON.stringify(events)).toContain('probe.sent');
    client.destroy();
  });
});
