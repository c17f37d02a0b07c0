import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type DelivererDeps,
  deliver,
  FAILING_DISABLE_MS,
} from '../../../../functions/webhook-deliverer/deliver.ts';
import type { SendRequest, SendResult } from '../../../../functions/webhook-deliverer/http-sender.ts';
import { dynamoRateLimiter } from '../../../../functions/webhook-deliverer/rate-limiter.ts';
import { RETRY_DELAYS_SECONDS } from '../../../../functions/webhook-deliverer/retry-policy.ts';
import { replayEndpoint, replaySkipped } from '../../../../functions/webhook-dispatch/deliveries.ts';
import { updateEndpoint } from '../../../../functions/webhook-dispatch/endpoints.ts';
import type { DispatchDeps } from '../../../../functions/webhook-dispatch/routes.ts';
import { fanOut } from '../../../../functions/webhook-fanout/fan-out.ts';
import { sweep } from '../../../../functions/webhook-sweeper/sweep.ts';
import { inProcessKms, LOCAL_KMS_KEY_ARN, LocalKms } from '../../../../local/kms.ts';
import { WebhookDeliveryRepository } from '../../../../shared/db/entities/webhook-deliveries.ts';
import {
  type WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../../../shared/db/entities/webhook-endpoints.ts';
import type { ReceivedEvent } from '../../../../shared/events/consumer.ts';
import type { HubEvent } from '../../../../shared/events/publisher.ts';
import { newId, ulidGenerator } from '../../../../shared/ids.ts';
import type { DeliveryMessage } from '../../../../shared/webhooks/delivery-queue.ts';
import { type KmsSend, kmsSecretBox } from '../../../../shared/webhooks/secret-box.ts';
import { generateSecret } from '../../../../shared/webhooks/signing.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

const box = kmsSecretBox({
  kms: inProcessKms(new LocalKms(randomBytes(32))) as KmsSend,
  keyId: LOCAL_KMS_KEY_ARN,
});
let table: TestTable;
let endpoints: WebhookEndpointRepository;
let deliveries: WebhookDeliveryRepository;

beforeAll(async () => {
  table = await startTestTable();
  endpoints = new WebhookEndpointRepository(table.doc, table.tableName);
  deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
});
afterAll(async () => {
  await table.stop();
});

/** A simulated world: manual clock, an SQS-like queue with delays, a scripted receiver. */
function world(options: { respond?: (req: SendRequest, n: number) => SendResult; allowAll?: boolean } = {}) {
  let now = Date.now();
  const queue: Array<DeliveryMessage & { visibleAt: number }> = [];
  const published: HubEvent[] = [];
  const received: Array<SendRequest & { at: number }> = [];
  const respond =
    options.respond ?? (() => ({ kind: 'response', statusCode: 200, durationMs: 3 }) as SendResult);
  const deps: DelivererDeps = {
    deliveries,
    endpoints,
    queue: {
      async enqueue(messages) {
        for (const m of messages)
          queue.push({
            deliveryId: m.deliveryId,
            dueKey: m.dueKey,
            ...(m.throttled ? { throttled: m.throttled } : {}),
            visibleAt: now + (m.delaySeconds ?? 0) * 1000,
          });
      },
    },
    publisher: {
      async publish(events) {
        published.push(...events);
      },
    },
    send: async (req) => {
      received.push({ ...req, at: now });
      return respond(req, received.length);
    },
    rateLimiter:
      options.allowAll === false
        ? dynamoRateLimiter(table.doc, table.tableName)
        : { tryAcquire: async () => true },
    clock: { now: () => new Date(now) },
    random: () => 0.5,
    newClaimId: randomUUID,
    secrets: box,
  };
  return {
    deps,
    queue,
    published,
    received,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    /** Delivers every visible message (and those they enqueue) until none is visible. */
    async pump(limit = 500): Promise<string[]> {
      const outcomes: string[] = [];
      for (let i = 0; i < limit; i++) {
        const idx = queue.findIndex((m) => m.visibleAt <= now);
        if (idx < 0) return outcomes;
        const [m] = queue.splice(idx, 1);
        const { visibleAt: _, ...message } = m!;
        outcomes.push(await deliver(message, deps));
      }
      throw new Error('pump did not settle');
    },
    /** Moves the clock to the next visible message. */
    skipToNext(): boolean {
      if (!queue.length) return false;
      now = Math.max(now, Math.min(...queue.map((m) => m.visibleAt)));
      return true;
    },
  };
}

async function endpoint(
  tenant: string,
  overrides: Partial<WebhookEndpoint> = {},
): Promise<WebhookEndpoint & { plainSecret: string }> {
  const at = new Date().toISOString();
  const plainSecret = generateSecret();
  const id = overrides.id ?? newId('ep');
  const ep: WebhookEndpoint = {
    id,
    tenant,
    url: 'https://hooks.partner.example/in',
    eventTypes: ['*'],
    rateLimitPerSecond: 10,
    status: 'enabled',
    allEvents: false,
    secret: await box.seal(plainSecret, { tenant, endpointId: id }),
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
  await endpoints.create(ep);
  return { ...ep, plainSecret };
}

function event(tenant: string, type = 'custom.thing.happened', at = new Date()): ReceivedEvent {
  return {
    id: randomUUID(),
    type,
    source: 'switchboard',
    time: at.toISOString(),
    detail: { tenant, eventId: newId('evt'), data: { n: 1 } },
  };
}

const fanDeps = (w: ReturnType<typeof world>) => ({
  endpoints,
  deliveries,
  queue: w.deps.queue,
  clock: w.deps.clock,
});

async function deliveriesOf(endpointId: string, tenant: string) {
  return (await deliveries.list({ tenant, endpointId, limit: 100 })).items;
}

describe('webhook delivery', () => {
  let tenant: string;
  beforeEach(() => {
    tenant = `t-${randomUUID().slice(0, 8)}`;
  });

  it('delivers once, signed so the standardwebhooks library verifies it, and cleans its due item', async () => {
    const w = world();
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    expect(await w.pump()).toEqual(['succeeded']);
    const [req] = w.received;
    expect(req!.headers['webhook-id']).toMatch(/^msg_/);
    expect(req!.headers['user-agent']).toContain('Switchboard');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(new Webhook(ep.plainSecret).verify(req!.body, req!.headers)).toMatchObject({
      type: 'custom.thing.happened',
      data: { n: 1 },
    });
    const [d] = await deliveriesOf(ep.id, tenant);
    expect(d).toMatchObject({ status: 'succeeded', attemptCount: 1, lastStatusCode: 200 });
    for (let s = 0; s < 4; s++)
      expect(await deliveries.listDue(s, new Date(w.now() + 1e12), 1000)).toEqual([]);
  });

  it('signs with the current and the previous secret while a rotation overlaps, and opens sealed secrets only', async () => {
    const w = world();
    const previous = generateSecret();
    const epId = newId('ep');
    const ep = await endpoint(tenant, {
      id: epId,
      previousSecret: await box.seal(previous, { tenant, endpointId: epId }),
      previousSecretExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect((await endpoints.get(tenant, ep.id))!.secret).not.toContain('whsec_');
    await fanOut(event(tenant), fanDeps(w));
    await w.pump();
    const [req] = w.received;
    expect(req!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(ep.plainSecret).verify(req!.body, req!.headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(req!.body, req!.headers)).not.toThrow();
    // Once the overlap is over, only the current secret signs.
    w.advance(2 * 3_600_000);
    await fanOut(event(tenant, 'custom.thing.happened', new Date(w.now())), fanDeps(w));
    await w.pump();
    expect(w.received[1]!.headers['webhook-signature']!.split(' ')).toHaveLength(1);
  });

  it('fans out idempotently: a redelivered event creates no second delivery', async () => {
    const w = world();
    const ep = await endpoint(tenant);
    const e = event(tenant);
    expect(await fanOut(e, fanDeps(w))).toEqual({ matched: 1, created: 1 });
    expect(await fanOut(e, fanDeps(w))).toEqual({ matched: 1, created: 0 });
    await w.pump();
    expect(w.received).toHaveLength(1);
    expect(await deliveriesOf(ep.id, tenant)).toHaveLength(1);
  });

  it('treats a re-published custom event (same eventId and occurredAt, new envelope) as the same event', async () => {
    const w = world();
    const ep = await endpoint(tenant);
    const detail = { tenant, eventId: newId('evt'), occurredAt: new Date().toISOString(), data: { n: 2 } };
    const envelope = (time: string): ReceivedEvent => ({
      id: randomUUID(),
      type: 'custom.thing.happened',
      source: 'switchboard',
      time,
      detail,
    });
    expect(await fanOut(envelope(new Date().toISOString()), fanDeps(w))).toMatchObject({ created: 1 });
    expect(await fanOut(envelope(new Date(Date.now() + 5_000).toISOString()), fanDeps(w))).toMatchObject({
      created: 0,
    });
    await w.pump();
    expect(w.received).toHaveLength(1);
    expect(JSON.parse(w.received[0]!.body).timestamp).toBe(detail.occurredAt);
    expect(await deliveriesOf(ep.id, tenant)).toHaveLength(1);
  });

  it('keeps tenants apart: events reach only their tenant and all-events endpoints, filters apply', async () => {
    const w = world();
    const other = `o-${randomUUID().slice(0, 8)}`;
    const mine = await endpoint(tenant, { eventTypes: ['custom.*'] });
    const filtered = await endpoint(tenant, { eventTypes: ['order.*'] });
    const theirs = await endpoint(other);
    const platform = await endpoint(`p-${randomUUID().slice(0, 8)}`, {
      allEvents: true,
      eventTypes: ['custom.thing.*'],
    });
    await fanOut(event(tenant), fanDeps(w));
    await w.pump();
    const urls = new Set(w.received.map((r) => r.headers['webhook-id']));
    expect(urls.size).toBe(2);
    expect(await deliveriesOf(mine.id, tenant)).toHaveLength(1);
    expect(await deliveriesOf(filtered.id, tenant)).toHaveLength(0);
    expect(await deliveriesOf(theirs.id, other)).toHaveLength(0);
    expect(await deliveriesOf(platform.id, platform.tenant)).toHaveLength(1);
    // The owner of an endpoint sees its deliveries; the event's tenant does not see platform's.
    expect(await deliveriesOf(platform.id, tenant)).toHaveLength(0);
    await endpoints.delete(platform.tenant, platform.id);
  });

  it('retries a failing endpoint on the schedule with a stable webhook-id, then succeeds', async () => {
    const w = world({
      respond: (_, n) => ({
        kind: 'response',
        statusCode: n < 3 ? 500 : 200,
        durationMs: 5,
        responseBody: 'oops',
      }),
    });
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    expect(await w.pump()).toEqual(['retry-scheduled']);
    expect(w.queue[0]!.visibleAt - w.now()).toBe(5_000); // random 0.5 → nominal 5 s
    w.skipToNext();
    expect(await w.pump()).toEqual(['retry-scheduled']);
    expect(w.queue[0]!.visibleAt - w.now()).toBe(300_000);
    w.skipToNext();
    expect(await w.pump()).toEqual(['succeeded']);
    expect(new Set(w.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(w.received.map((r) => r.headers['webhook-timestamp'])).size).toBe(3);
    const d = await deliveries.get(w.received[0]!.headers['webhook-id']!);
    expect(d!.attempts.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    expect(d!.attempts[0]).toMatchObject({ responseBody: 'oops', durationMs: 5 });
    expect(d!.attempts[0]!.nextAttemptAt).toBe(
      new Date(Date.parse(d!.attempts[0]!.at) + 5_000).toISOString(),
    );
    expect((await endpoints.get(tenant, ep.id))!.failingSince).toBeUndefined();
  });

  it('honours Retry-After, and waits at least 60 s after a 429 or a timeout', async () => {
    const script: SendResult[] = [
      { kind: 'response', statusCode: 503, retryAfter: '120', durationMs: 1 },
      { kind: 'response', statusCode: 429, durationMs: 1 },
      { kind: 'timeout', durationMs: 15_000, error: 'slow' },
      { kind: 'response', statusCode: 200, durationMs: 1 },
    ];
    const w = world({ respond: (_, n) => script[n - 1]! });
    await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await w.pump();
      waits.push(w.queue[0]!.visibleAt - w.now());
      w.skipToNext();
    }
    expect(await w.pump()).toEqual(['succeeded']);
    expect(waits).toEqual(
      [120_000, 300_000, 1_800_000].map((nominal, i) => (i === 0 ? 120_000 : Math.max(60_000, nominal))),
    );
    // The first retry after a 429 at the 5 s step: floor applies.
    const w2 = world({
      respond: (_, n) =>
        n === 1
          ? { kind: 'response', statusCode: 429, durationMs: 1 }
          : { kind: 'response', statusCode: 200, durationMs: 1 },
    });
    await endpoint(`${tenant}-2`);
    await fanOut(event(`${tenant}-2`), fanDeps(w2));
    await w2.pump();
    expect(w2.queue[0]!.visibleAt - w2.now()).toBe(60_000);
  });

  it('disables the endpoint on 410 Gone and says so once; later events are not sent to it', async () => {
    const w = world({ respond: () => ({ kind: 'response', statusCode: 410, durationMs: 1 }) });
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    expect(await w.pump()).toEqual(['failed']);
    const after = await endpoints.get(tenant, ep.id);
    expect(after).toMatchObject({ status: 'disabled', disabledReason: 'gone', disabledNotified: true });
    expect(w.published.map((e) => e.type)).toEqual(['webhook.endpoint.disabled']);
    expect(w.published[0]!.detail).toMatchObject({
      tenant,
      endpointId: ep.id,
      reason: 'gone',
      host: 'hooks.partner.example',
    });
    // Later events are recorded as skipped (for a replay after re-enabling), not sent.
    expect(await fanOut(event(tenant), fanDeps(w))).toEqual({ matched: 1, created: 1 });
    expect(await w.pump()).toEqual([]);
    expect(w.received).toHaveLength(1);
    expect((await deliveriesOf(ep.id, tenant)).map((d) => d.status)).toEqual(['skipped', 'failed']);
  });

  it('exhausts the whole schedule (≥ 27 h, ≥ 8 attempts) and publishes webhook.delivery.exhausted once', async () => {
    const w = world({ respond: () => ({ kind: 'response', statusCode: 500, durationMs: 1 }) });
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    const start = w.now();
    const outcomes: string[] = [];
    do outcomes.push(...(await w.pump()));
    while (w.skipToNext());
    expect(outcomes.filter((o) => o === 'retry-scheduled')).toHaveLength(RETRY_DELAYS_SECONDS.length);
    expect(outcomes.at(-1)).toBe('failed');
    expect(w.received.length).toBe(RETRY_DELAYS_SECONDS.length + 1);
    expect(w.received.length).toBeGreaterThanOrEqual(8);
    expect(w.received.at(-1)!.at - start).toBeGreaterThanOrEqual(27 * 3_600_000);
    expect(w.published.map((e) => e.type)).toEqual(['webhook.delivery.exhausted']);
    const [d] = await deliveriesOf(ep.id, tenant);
    expect(d).toMatchObject({ status: 'failed', attemptCount: RETRY_DELAYS_SECONDS.length + 1 });
    expect(d!.notices).toBeUndefined();
    // 41 h of failures is not yet 5 days: still enabled.
    expect((await endpoints.get(tenant, ep.id))!.status).toBe('enabled');
  });

  it('disables an endpoint failing continuously for 5 days (simulated time) and publishes it', async () => {
    const w = world({ respond: () => ({ kind: 'response', statusCode: 502, durationMs: 1 }) });
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    await w.pump();
    const firstFailure = w.now();
    expect((await endpoints.get(tenant, ep.id))!.failingSince).toBe(new Date(firstFailure).toISOString());
    w.advance(FAILING_DISABLE_MS - 60_000);
    await fanOut(event(tenant, 'custom.thing.happened', new Date(w.now())), fanDeps(w));
    w.skipToNext();
    await w.pump();
    expect((await endpoints.get(tenant, ep.id))!.status).toBe('enabled');
    w.advance(120_000);
    await fanOut(event(tenant, 'custom.thing.happened', new Date(w.now())), fanDeps(w));
    await w.pump();
    const disabled = await endpoints.get(tenant, ep.id);
    expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    expect(w.published.filter((e) => e.type === 'webhook.endpoint.disabled')).toHaveLength(1);
    // Deliveries still pending for it are not sent: skipped, for a replay once it works again.
    do await w.pump();
    while (w.skipToNext());
    const statuses = (await deliveriesOf(ep.id, tenant)).map((d) => d.status).sort();
    // e1's retry failed and disabled the endpoint; e2 was still retrying and e3 was never tried:
    // both skipped (re-enabling with replaySkipped delivers them).
    expect(statuses).toEqual(['failed', 'skipped', 'skipped']);
  });

  it('survives a crash between the attempt and its recording: retried with the same webhook-id, never lost', async () => {
    const w = world();
    await endpoint(tenant);
    let crash = true;
    const crashing = {
      ...deliveries,
      get: deliveries.get.bind(deliveries),
      claim: deliveries.claim.bind(deliveries),
      putDue: deliveries.putDue.bind(deliveries),
      deleteDue: deliveries.deleteDue.bind(deliveries),
      clearNotices: deliveries.clearNotices.bind(deliveries),
      transition: async (...args: Parameters<WebhookDeliveryRepository['transition']>) => {
        if (crash) {
          crash = false;
          throw new Error('process killed');
        }
        return deliveries.transition(...args);
      },
    };
    w.deps.deliveries = crashing;
    await fanOut(event(tenant), fanDeps(w));
    const [msg] = w.queue.splice(0, 1);
    await expect(deliver(msg!, w.deps)).rejects.toThrow('process killed');
    expect(w.received).toHaveLength(1);
    // SQS redelivers the message after its visibility timeout; the attempt lease has not expired yet.
    expect(await deliver(msg!, w.deps)).toBe('not-due');
    // Even if that message were lost, the due item brings it back once the lease is over.
    w.queue.length = 0;
    w.advance(91_000);
    await sweep({ deliveries, queue: w.deps.queue, clock: w.deps.clock });
    // (other tests' due items share the table: keep only this delivery's wake-ups)
    const mine = w.queue.filter((m) => m.deliveryId === msg!.deliveryId);
    expect(mine).toHaveLength(1);
    w.queue.splice(0, w.queue.length, ...mine);
    expect(await w.pump()).toEqual(['succeeded']);
    expect(w.received).toHaveLength(2);
    expect(w.received[1]!.headers['webhook-id']).toBe(w.received[0]!.headers['webhook-id']);
    await sweep({ deliveries, queue: w.deps.queue, clock: w.deps.clock });
    expect(w.queue.filter((m) => m.deliveryId === msg!.deliveryId)).toHaveLength(0);
  });

  it('drops duplicate and stale wake-ups without sending twice', async () => {
    const w = world();
    await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    w.queue.push({ ...w.queue[0]! }, { ...w.queue[0]! });
    const outcomes = await w.pump();
    expect(outcomes.filter((o) => o === 'succeeded')).toHaveLength(1);
    expect(w.received).toHaveLength(1);
  });

  it('limits each endpoint to its rate without holding back another endpoint', async () => {
    const w = world({ allowAll: false });
    const slow = await endpoint(tenant, { rateLimitPerSecond: 2, eventTypes: ['custom.a'] });
    const fast = await endpoint(tenant, { eventTypes: ['custom.b'] });
    for (let i = 0; i < 5; i++) await fanOut(event(tenant, 'custom.a'), fanDeps(w));
    for (let i = 0; i < 3; i++) await fanOut(event(tenant, 'custom.b'), fanDeps(w));
    const outcomes = await w.pump();
    expect(outcomes.filter((o) => o === 'throttled')).toHaveLength(3);
    const byEndpoint = async (id: string) =>
      (await deliveriesOf(id, tenant)).filter((d) => d.status === 'succeeded').length;
    expect(await byEndpoint(fast.id)).toBe(3);
    expect(await byEndpoint(slow.id)).toBe(2);
    w.skipToNext();
    await w.pump();
    w.skipToNext();
    await w.pump();
    expect(await byEndpoint(slow.id)).toBe(5);
  });

  it('puts a failing endpoint in the slow lane (1/s) until it succeeds again', async () => {
    let healthy = false;
    const w = world({
      allowAll: false,
      respond: () => ({ kind: 'response', statusCode: healthy ? 200 : 500, durationMs: 1 }),
    });
    const ep = await endpoint(tenant, { rateLimitPerSecond: 10 });
    for (let i = 0; i < 4; i++) await fanOut(event(tenant), fanDeps(w));
    // The first failure starts the failing run: the rest of the second's sends wait their turn.
    expect(await w.pump()).toEqual(['retry-scheduled', 'throttled', 'throttled', 'throttled']);
    expect((await endpoints.get(tenant, ep.id))!.failingSince).toBeDefined();
    // Refused again and again, a wake-up backs off instead of spinning every second.
    const firstWait = Math.max(...w.queue.filter((m) => m.throttled === 1).map((m) => m.visibleAt - w.now()));
    expect(firstWait).toBe(2_000);
    w.advance(2_000);
    // A new second: one more attempt (the slow lane's one per second), the others back off further.
    expect(await w.pump()).toEqual(['retry-scheduled', 'throttled', 'throttled']);
    expect(w.queue.filter((m) => m.throttled === 2).map((m) => m.visibleAt - w.now())).toEqual([
      3_000, 3_000,
    ]);
    healthy = true;
    const rest: string[] = [];
    do rest.push(...(await w.pump()));
    while (w.skipToNext());
    // The first success ends the failing run; everything is delivered.
    expect(rest.filter((o) => o === 'succeeded')).toHaveLength(4);
    expect((await endpoints.get(tenant, ep.id))!.failingSince).toBeUndefined();
    expect((await deliveriesOf(ep.id, tenant)).every((d) => d.status === 'succeeded')).toBe(true);
  });
});

describe('events published while an endpoint is disabled', () => {
  let tenant: string;
  beforeEach(() => {
    tenant = `t-${randomUUID().slice(0, 8)}`;
  });

  const dispatchDeps = (w: ReturnType<typeof world>) =>
    ({
      endpoints,
      deliveries,
      queue: w.deps.queue,
      clock: w.deps.clock,
      ids: ulidGenerator,
      stage: 'test',
      secrets: async () => box,
    }) as unknown as DispatchDeps;
  const typeOf = (req: SendRequest) => (JSON.parse(req.body) as { type: string }).type;

  /** A disabled endpoint and three events, a second apart: three skipped deliveries. */
  async function skippedThree(w: ReturnType<typeof world>) {
    const ep = await endpoint(tenant, {
      status: 'disabled',
      disabledReason: 'manual',
      disabledAt: new Date(w.now()).toISOString(),
    });
    const since = new Date(w.now() - 1000).toISOString();
    for (const n of ['one', 'two', 'three']) {
      // Published newest-last; fan-out of the same event again records nothing new.
      const e = event(tenant, `custom.seq.${n}`, new Date(w.now()));
      expect(await fanOut(e, fanDeps(w))).toEqual({ matched: 1, created: 1 });
      expect(await fanOut(e, fanDeps(w))).toEqual({ matched: 1, created: 0 });
      w.advance(1000);
    }
    expect(w.queue).toHaveLength(0);
    const log = await deliveriesOf(ep.id, tenant);
    expect(log.map((d) => [d.status, d.lastError])).toEqual([
      ['skipped', 'endpoint disabled'],
      ['skipped', 'endpoint disabled'],
      ['skipped', 'endpoint disabled'],
    ]);
    return { ep, since };
  }

  it('records them as skipped; re-enabling with replaySkipped delivers them once each, oldest first', async () => {
    const w = world();
    const { ep } = await skippedThree(w);
    const caller = { tenant, scopes: [] };
    await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 3, complete: true });
    // A second replay, and the events delivered again by the bus, send nothing new.
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 0, complete: true });
    await w.pump();
    expect(w.received.map(typeOf)).toEqual(['custom.seq.one', 'custom.seq.two', 'custom.seq.three']);
    expect(new Set(w.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    expect((await deliveriesOf(ep.id, tenant)).every((d) => d.status === 'succeeded')).toBe(true);
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 0, complete: true });
    await w.pump();
    expect(w.received).toHaveLength(3);
  });

  it('stops re-arming skipped deliveries past its time budget (after a minimum) and answers complete: false; the next call goes on', async () => {
    const w = world();
    const { ep } = await skippedThree(w);
    const caller = { tenant, scopes: [] };
    await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
    // Past its budget a request still re-arms its minimum (here 1), so repeating it progresses.
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w), -1, 1)).toEqual({
      replayed: 1,
      complete: false,
    });
    expect((await deliveriesOf(ep.id, tenant)).filter((d) => d.status === 'skipped')).toHaveLength(2);
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 2, complete: true });
    await w.pump();
    expect(w.received.map(typeOf)).toEqual(['custom.seq.one', 'custom.seq.two', 'custom.seq.three']);
  });

  it('"replay failed since T" includes skipped deliveries, in event order, once', async () => {
    const w = world();
    const { ep, since } = await skippedThree(w);
    const caller = { tenant, scopes: [] };
    await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
    const [a, b] = await Promise.all([
      replayEndpoint(ep.id, { since }, caller, dispatchDeps(w)),
      replayEndpoint(ep.id, { since }, caller, dispatchDeps(w)),
    ]);
    expect(a.replayed + b.replayed).toBe(3);
    await w.pump();
    expect(w.received.map(typeOf)).toEqual(['custom.seq.one', 'custom.seq.two', 'custom.seq.three']);
  });

  it('a delivery in the middle of its retries when the endpoint is disabled is skipped (its attempts kept) and re-enabling with replaySkipped delivers it', async () => {
    let down = true;
    const w = world({
      respond: () => ({ kind: 'response', statusCode: down ? 503 : 200, durationMs: 1 }),
    });
    const ep = await endpoint(tenant);
    await fanOut(event(tenant, 'order.fulfilled'), fanDeps(w));
    expect(await w.pump()).toEqual(['retry-scheduled']);
    // The operator disables the failing endpoint before the retry is due.
    await endpoints.update(tenant, ep.id, { status: 'disabled', updatedAt: new Date().toISOString() });
    w.skipToNext();
    expect(await w.pump()).toEqual(['skipped']);
    const [held] = await deliveriesOf(ep.id, tenant);
    expect(held).toMatchObject({ status: 'skipped', lastError: 'endpoint disabled', attemptCount: 1 });
    expect(w.received).toHaveLength(1);
    // The partner's receiver works again; re-enabling with replaySkipped delivers the event.
    down = false;
    const caller = { tenant, scopes: [] };
    await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 1, complete: true });
    expect(await w.pump()).toEqual(['succeeded']);
    expect(w.received.map(typeOf)).toEqual(['order.fulfilled', 'order.fulfilled']);
    expect(new Set(w.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect((await deliveriesOf(ep.id, tenant))[0]).toMatchObject({ status: 'succeeded', attemptCount: 2 });
  });

  it('a delivery skipped while the endpoint is being re-enabled (its replay already listed) is re-armed by the deliverer, sent once', async () => {
    const w = world();
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    await endpoints.update(tenant, ep.id, { status: 'disabled', updatedAt: new Date().toISOString() });
    const caller = { tenant, scopes: [] };
    let replay: Awaited<ReturnType<typeof replaySkipped>> | undefined;
    // The deliverer reads the endpoint disabled; before it records the delivery as skipped, the
    // endpoint is re-enabled with replaySkipped, which finds nothing skipped yet.
    w.deps.endpoints = {
      ...endpoints,
      update: endpoints.update.bind(endpoints),
      markFailing: endpoints.markFailing.bind(endpoints),
      clearFailing: endpoints.clearFailing.bind(endpoints),
      get: async (t, id) => {
        const seen = await endpoints.get(t, id);
        if (!replay) {
          await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
          replay = await replaySkipped(ep.id, caller, dispatchDeps(w));
        }
        return seen;
      },
    };
    expect(await w.pump()).toEqual(['rearmed', 'succeeded']);
    expect(replay).toEqual({ replayed: 0, complete: true });
    expect(w.received).toHaveLength(1);
    expect(await replaySkipped(ep.id, caller, dispatchDeps(w))).toEqual({ replayed: 0, complete: true });
    expect(await w.pump()).toEqual([]);
  });

  it('a delivery enqueued just before the endpoint was disabled (stale fan-out cache) is skipped, not cancelled', async () => {
    const w = world();
    const ep = await endpoint(tenant);
    await fanOut(event(tenant), fanDeps(w));
    await endpoints.update(tenant, ep.id, { status: 'disabled', updatedAt: new Date().toISOString() });
    expect(await w.pump()).toEqual(['skipped']);
    expect(w.received).toHaveLength(0);
    const caller = { tenant, scopes: [] };
    await updateEndpoint(ep.id, { status: 'enabled' }, caller, dispatchDeps(w));
    expect((await replaySkipped(ep.id, caller, dispatchDeps(w))).replayed).toBe(1);
    expect(await w.pump()).toEqual(['succeeded']);
  });
});
