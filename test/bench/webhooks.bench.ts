import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { cachedEndpointListings } from '../../functions/webhook-fanout/endpoint-cache.ts';
import { fanOut } from '../../functions/webhook-fanout/fan-out.ts';
import { startRuntime } from '../../local/runtime.ts';
import { systemClock } from '../../shared/clock.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../shared/db/entities/webhook-endpoints.ts';
import { newId } from '../../shared/ids.ts';
import { generateSecret, signPayload, webhookHeaders } from '../../shared/webhooks/signing.ts';
import { startTestTable } from '../helpers/dynamo.ts';
import { recordFigure } from './table.ts';

/**
 * Webhook section of `npm run bench`: signatures per second of our signer beside the
 * `standardwebhooks` library's signer (same payload, same run), then deliveries per second from
 * fan-out to verified receipt through the local runtime for 1, 10 and 100 endpoints: the events are
 * published first (the fan-out queue held), then the queue is released and the clock runs until
 * the receiver sandbox has verified every delivery. Peer: the same receiver fed signed POSTs
 * directly (20 at a time), i.e. what the receiving side alone can take on this machine.
 */
function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 2_000; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  return n / ((performance.now() - start) / 1000);
}

async function signatures(): Promise<void> {
  const secret = generateSecret();
  const payload = JSON.stringify({
    type: 'order.accepted',
    timestamp: new Date().toISOString(),
    data: { orderId: 'ord_01J0000000000000000000000', tenant: 'arrow', lines: [{ sku: 'X-1', quantity: 5 }] },
  });
  const ts = Math.floor(Date.now() / 1000);
  const lib = new Webhook(secret);
  const date = new Date(ts * 1000);
  if (lib.sign('msg_1', date, payload) !== signPayload(secret, 'msg_1', ts, payload))
    throw new Error('signers disagree');
  const ours = rate(() => signPayload(secret, 'msg_1', ts, payload), 1_500);
  const theirs = rate(() => lib.sign('msg_1', date, payload), 1_500);
  console.log(
    `signatures/s (payload ${payload.length} B): ours ${ours.toFixed(0)}, standardwebhooks ${theirs.toFixed(0)}, ratio ${(ours / theirs).toFixed(2)}×`,
  );
  recordFigure({
    figure: 'webhook signatures',
    value: ours,
    unit: 'signatures/s',
    peer: { label: 'standardwebhooks signer', value: theirs },
  });
}

async function deliveries(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    const json = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(`${rt.url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    // Peer: what the receiver sandbox itself takes (signed POSTs sent straight to it, 20 in flight).
    const peerSecret = generateSecret();
    await json('DELETE', '/_sandbox/receiver/_records');
    await json('PUT', '/_sandbox/receiver/bench-peer/_config', { secret: peerSecret });
    const PEER_POSTS = 400;
    let sent = 0;
    const peerStarted = performance.now();
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (sent < PEER_POSTS) {
          const n = sent++;
          const body = JSON.stringify({
            type: 'custom.peer.tick',
            timestamp: new Date().toISOString(),
            data: { n },
          });
          const headers = webhookHeaders({
            msgId: `msg_peer${n}`,
            timestampSeconds: Math.floor(Date.now() / 1000),
            payload: body,
            secrets: [peerSecret],
          });
          const res = await fetch(`${rt.url}/_sandbox/receiver/bench-peer`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
        }
      }),
    );
    const peerRate = PEER_POSTS / ((performance.now() - peerStarted) / 1000);
    console.log(`receiver sandbox alone (signed POSTs, 20 in flight): ${peerRate.toFixed(0)} verified/s`);

    const fanoutQueue = rt.queues.get('webhook-fanout')!;
    for (const [endpoints, events] of [
      [1, Number(process.env.BENCH_WEBHOOK_EVENTS ?? 600)],
      [10, 60],
      [100, 6],
    ] as const) {
      const token = await rt.token('platform');
      const prefix = `custom.bench${endpoints}`;
      // Resetting the sandbox also forgets receiver configs: do it before configuring them.
      await json('DELETE', '/_sandbox/receiver/_records');
      for (let i = 0; i < endpoints; i++) {
        const name = `bench-${endpoints}-${i}`;
        const ep = await json(
          'POST',
          '/v1/webhooks/endpoints',
          {
            url: `${rt.url}/_sandbox/receiver/${name}`,
            eventTypes: [`${prefix}.*`],
            rateLimitPerSecond: 1000,
          },
          token,
        );
        await json('PUT', `/_sandbox/receiver/${name}/_config`, { secret: ep.secret });
      }
      const expected = endpoints * events;
      // Publish with the fan-out queue held, so the clock below starts at fan-out.
      await fanoutQueue.stop();
      const publishStart = performance.now();
      let published = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (published < events) {
            const i = published++;
            await json('POST', '/v1/webhooks/events', { type: `${prefix}.tick`, data: { i } }, token);
          }
        }),
      );
      const publishRate = events / ((performance.now() - publishStart) / 1000);
      const start = performance.now();
      fanoutQueue.start();
      let got: Array<{ kind: string; verified: boolean }> = [];
      for (let round = 0; round < 20; round++) {
        await rt.drain(120_000);
        got = ((await json('GET', '/_sandbox/receiver/_records')) as typeof got).filter(
          (r) => r.kind === 'delivery',
        );
        if (got.length >= expected) break;
        await rt.advanceClock(2); // throttled or retried messages wait on the hub clock
      }
      const seconds = (performance.now() - start) / 1000;
      const verified = got.filter((r) => r.verified).length;
      console.log(
        `fan-out → receipt, ${String(endpoints).padStart(3)} endpoint(s) × ${events} events: ${got.length}/${expected} received (${verified} verified) in ${seconds.toFixed(2)} s = ${(got.length / seconds).toFixed(1)} deliveries/s (events published at ${publishRate.toFixed(0)}/s beforehand)`,
      );
      recordFigure({
        figure: `webhook fan-out → verified receipt, ${endpoints} endpoint${endpoints > 1 ? 's' : ''}`,
        value: verified / seconds,
        unit: 'deliveries/s',
        peer: { label: 'receiver alone (direct signed POSTs)', value: peerRate },
        ...(endpoints === 1 ? { target: '≥ 200/s' } : {}),
      });
      if (endpoints === 1) {
        recordFigure({
          figure: 'custom events published (POST /v1/webhooks/events)',
          value: publishRate,
          unit: 'events/s',
        });
      }
    }
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * DynamoDB reads fan-out makes per event to find its endpoints, without and with the endpoint cache
 * (a tenant with 10 endpoints, 2 all-events endpoints elsewhere; 200 events, one at a time).
 */
export async function fanOutReads(): Promise<void> {
  const table = await startTestTable();
  try {
    const calls = new Map<string, number>();
    let items = 0;
    const counting = {
      send: async (command: { constructor: { name: string } }) => {
        calls.set(command.constructor.name, (calls.get(command.constructor.name) ?? 0) + 1);
        const res = (await table.doc.send(command as never)) as {
          Items?: unknown[];
          Responses?: Record<string, unknown[]>;
        };
        items +=
          (res.Items?.length ?? 0) + Object.values(res.Responses ?? {}).reduce((a, r) => a + r.length, 0);
        return res;
      },
    } as unknown as DynamoDBDocumentClient;
    const endpoints = new WebhookEndpointRepository(counting, table.tableName);
    const deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
    const at = new Date().toISOString();
    const add = (tenant: string, allEvents: boolean) =>
      endpoints.create({
        id: newId('ep'),
        tenant,
        url: 'https://hooks.partner.example/in',
        eventTypes: ['custom.*'],
        rateLimitPerSecond: 10,
        status: 'enabled',
        allEvents,
        secret: 'sealed',
        createdAt: at,
        updatedAt: at,
      });
    for (let i = 0; i < 10; i++) await add('bench-tenant', false);
    for (let i = 0; i < 2; i++) await add('bench-platform', true);
    const EVENTS = 200;
    const run = async (cached: boolean) => {
      const listings = cached ? cachedEndpointListings(endpoints, systemClock) : endpoints;
      const deps = {
        endpoints: Object.assign(listings, { get: endpoints.get.bind(endpoints) }),
        deliveries,
        queue: { enqueue: async () => {} },
        clock: systemClock,
      };
      calls.clear();
      items = 0;
      for (let i = 0; i < EVENTS; i++) {
        await fanOut(
          {
            id: newId('evt'),
            type: 'custom.bench.tick',
            source: 'bench',
            time: new Date().toISOString(),
            detail: { tenant: 'bench-tenant', eventId: newId('evt'), data: { i } },
          },
          deps,
        );
      }
      const per = (name: string) => (calls.get(name) ?? 0) / EVENTS;
      return { queries: per('QueryCommand'), batchGets: per('BatchGetCommand'), items: items / EVENTS };
    };
    const before = await run(false);
    const after = await run(true);
    console.log(
      `fan-out endpoint reads per event (10 endpoints + 2 all-events): uncached ${before.queries.toFixed(2)} queries, ${before.items.toFixed(1)} items read; cached ${after.queries.toFixed(2)} queries + ${after.batchGets.toFixed(2)} BatchGetItem (version items), ${after.items.toFixed(1)} items read`,
    );
    recordFigure({
      figure: 'fan-out DynamoDB items read per event to find endpoints (cached)',
      value: after.items,
      unit: 'items/event',
      peer: { label: 'uncached (two listing queries)', value: before.items },
    });
  } finally {
    await table.stop();
  }
}

export default async function (): Promise<void> {
  await fanOutReads();
  await signatures();
  await deliveries();
}
