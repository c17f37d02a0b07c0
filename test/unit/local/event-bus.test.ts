import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { RuleSpec } from '../../../infra/wiring-types.ts';
import { LocalEventBus, PutEventsValidationError } from '../../../local/bus/event-bus.ts';
import { LocalQueue } from '../../../local/bus/queue.ts';
import { advanceClock, nowMs } from '../../../shared/clock.ts';
import { TransientError } from '../../../shared/errors.ts';
import { busEventHandler } from '../../../shared/events/consumer.ts';
import { createPublisher } from '../../../shared/events/publisher.ts';
import { testContext } from '../../helpers/auth.ts';

const BUS = 'switchboard-local';

const rules: RuleSpec[] = [
  {
    name: 'orders-accepted',
    description: '',
    pattern: { 'detail-type': ['order.accepted'] },
    queue: 'billing',
  },
  {
    name: 'all-orders',
    description: '',
    pattern: { source: ['switchboard'], 'detail-type': [{ prefix: 'order.' }] },
    queue: 'notifier',
  },
  {
    name: 'big-usage',
    description: '',
    pattern: { 'detail-type': ['usage.recorded'], detail: { quantity: [{ numeric: ['>', 100] }] } },
    queue: 'billing',
  },
];

/** A rule target that records what it is sent. */
const sink = () => {
  const bodies: string[] = [];
  return { bodies, send: (body: string) => void bodies.push(body) };
};

const entry = (
  detailType: string,
  detail: unknown = { tenant: 't1' },
  extra: Record<string, unknown> = {},
) => ({
  EventBusName: BUS,
  Source: 'switchboard',
  DetailType: detailType,
  Detail: typeof detail === 'string' ? detail : JSON.stringify(detail),
  ...extra,
});

function bus(options: { random?: () => number } = {}) {
  const billing = sink();
  const notifier = sink();
  const b = new LocalEventBus({
    name: BUS,
    rules,
    targets: { billing, notifier },
    region: 'eu-west-1',
    ...options,
  });
  return { bus: b, billing, notifier };
}

describe('LocalEventBus.putEvents', () => {
  it('builds the real envelope (EventBridgeSchema) with the hub clock and delivers it to every matching rule', () => {
    advanceClock(3_600_000);
    const { bus: b, billing, notifier } = bus();
    const before = Math.floor(nowMs() / 1000) * 1000;
    const res = b.putEvents([
      entry('order.accepted', { tenant: 't1', orderId: 'o1' }, { Resources: ['o1'] }),
    ]);
    expect(res.FailedEntryCount).toBe(0);
    const eventId = res.Entries?.[0]?.EventId;
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);

    expect(billing.bodies).toHaveLength(1);
    expect(notifier.bodies).toEqual(billing.bodies);
    const envelope = EventBridgeSchema.parse(JSON.parse(billing.bodies[0]!));
    expect(envelope).toMatchObject({
      version: '0',
      id: eventId,
      'detail-type': 'order.accepted',
      source: 'switchboard',
      account: '000000000000',
      region: 'eu-west-1',
      resources: ['o1'],
      detail: { tenant: 't1', orderId: 'o1' },
    });
    expect(envelope.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // The hub clock, not the wall clock: an hour ahead.
    expect(Date.parse(envelope.time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(envelope.time)).toBeGreaterThan(Date.now() + 3_000_000);

    expect(b.events().at(-1)).toMatchObject({ bus: BUS, matchedRules: ['orders-accepted', 'all-orders'] });
  });

  it('uses the entry Time when given (epoch seconds as the SDK sends it, or a Date)', () => {
    const { bus: b, billing } = bus();
    b.putEvents([entry('order.accepted', { tenant: 't' }, { Time: 1_700_000_000 })]);
    b.putEvents([entry('order.accepted', { tenant: 't' }, { Time: new Date('2024-01-02T03:04:05.678Z') })]);
    expect(billing.bodies.map((x) => JSON.parse(x).time)).toEqual([
      '2023-11-14T22:13:20Z',
      '2024-01-02T03:04:05Z',
    ]);
  });

  it('applies content filters: only matching rules receive the event', () => {
    const { bus: b, billing, notifier } = bus();
    b.putEvents([
      entry('usage.recorded', { tenant: 't', quantity: 50 }),
      entry('usage.recorded', { quantity: 500 }),
    ]);
    expect(billing.bodies.map((x) => JSON.parse(x).detail.quantity)).toEqual([500]);
    expect(notifier.bodies).toHaveLength(0);
    expect(b.events().map((e) => e.matchedRules)).toEqual([[], ['big-usage']]);
  });

  it('answers invalid entries one by one, as AWS does, and still accepts the valid ones', () => {
    const { bus: b, billing } = bus();
    const res = b.putEvents([
      entry('order.accepted', 'not json'),
      entry('order.accepted', '[1,2]'),
      entry('order.accepted', { tenant: 'ok' }),
      { ...entry('order.accepted'), Source: undefined },
      { ...entry('order.accepted'), DetailType: '' },
      { ...entry('order.accepted'), EventBusName: 'someone-elses-bus' },
      { ...entry('order.accepted'), Source: 'aws.ec2' },
    ]);
    expect(res.FailedEntryCount).toBe(6);
    expect(res.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'MalformedDetail',
      'MalformedDetail',
      'ok',
      'InvalidArgument',
      'InvalidArgument',
      'InvalidArgument',
      'NotAuthorizedForSourceException',
    ]);
    expect(res.Entries?.[3]?.ErrorMessage).toMatch(/Source is a required argument/);
    expect(res.Entries?.[5]?.ErrorMessage).toMatch(/someone-elses-bus does not exist/);
    expect(billing.bodies.map((x) => JSON.parse(x).detail)).toEqual([{ tenant: 'ok' }]);
    expect(b.events()).toHaveLength(1);
  });

  it('accepts the bus ARN, and sends an entry without a bus to `default` where no hub rule applies', () => {
    const { bus: b, billing } = bus();
    const res = b.putEvents([
      entry('order.accepted', { tenant: 't' }, { EventBusName: b.arn }),
      entry('order.accepted', { tenant: 't' }, { EventBusName: undefined }),
    ]);
    expect(res.FailedEntryCount).toBe(0);
    expect(billing.bodies).toHaveLength(1);
    expect(b.events().map((e) => [e.bus, e.matchedRules.length])).toEqual([
      [BUS, 2],
      ['default', 0],
    ]);
  });

  it('rejects a whole request with no entries, more than 10, or over 256 KB', () => {
    const { bus: b, billing } = bus();
    expect(() => b.putEvents([])).toThrow(PutEventsValidationError);
    expect(() => b.putEvents(Array.from({ length: 11 }, () => entry('order.accepted')))).toThrow(
      /between 1 and 10/,
    );
    expect(() => b.putEvents([entry('order.accepted', { big: 'x'.repeat(256 * 1024) })])).toThrow(
      /over the limit/,
    );
    expect(billing.bodies).toHaveLength(0);
  });

  it('keeps only the last N events in its archive and filters them by detail type', () => {
    const b = new LocalEventBus({ name: BUS, rules: [], targets: {}, archiveSize: 3 });
    for (let i = 0; i < 5; i++) b.putEvents([entry(i % 2 ? 'odd.happened' : 'even.happened', { i })]);
    expect(b.events().map((e) => e.envelope.detail.i)).toEqual([2, 3, 4]);
    expect(b.events({ detailType: 'odd.happened' }).map((e) => e.envelope.detail.i)).toEqual([3]);
    b.clearArchive();
    expect(b.events()).toEqual([]);
  });

  it('refuses at construction a rule with a malformed pattern or an unknown queue, naming the rule', () => {
    const bad = (rule: Partial<RuleSpec>) => () =>
      new LocalEventBus({
        name: BUS,
        rules: [{ name: 'r1', description: '', pattern: { source: ['x'] }, queue: 'q', ...rule }],
        targets: { q: sink() },
      });
    expect(bad({})).not.toThrow();
    expect(bad({ pattern: { source: 'x' } })).toThrow(/rule r1: invalid event pattern at source/);
    expect(bad({ queue: 'missing' })).toThrow(/rule r1: target queue missing does not exist/);
  });
});

describe('LocalEventBus fault injection', () => {
  it('fails the chosen fraction of valid entries with a retryable error code', () => {
    const rolls = [0.1, 0.9, 0.2, 0.8];
    const { bus: b, billing } = bus({ random: () => rolls.shift() ?? 1 });
    b.setFaults({ failureRate: 0.5 });
    const res = b.putEvents(Array.from({ length: 4 }, (_, i) => entry('order.accepted', { i })));
    expect(res.FailedEntryCount).toBe(2);
    expect(res.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'InternalFailure',
      'ok',
      'InternalFailure',
      'ok',
    ]);
    expect(billing.bodies.map((x) => JSON.parse(x).detail.i)).toEqual([1, 3]);
    expect(() => b.setFaults({ failureRate: 2 })).toThrow(RangeError);
  });

  it('drives the shared publisher: it re-sends only the failed entries, and gives up with a TransientError', async () => {
    const rolls = [0.1, 0.9, 0.9]; // first call: entry 0 fails, entry 1 passes; the retry passes
    const { bus: b, billing } = bus({ random: () => rolls.shift() ?? 0.9 });
    const calls: number[] = [];
    const client = {
      send: async (command: PutEventsCommand) => {
        calls.push(command.input.Entries?.length ?? 0);
        return b.putEvents(command.input.Entries ?? []);
      },
    };
    const publisher = createPublisher({
      busName: BUS,
      client: client as never,
      definitionOf: () => ({ schema: z.looseObject({ tenant: z.string() }), public: false, description: '' }),
      sleep: async () => undefined,
    });
    b.setFaults({ failureRate: 0.5 });
    await publisher.publish([
      { type: 'order.accepted', detail: { tenant: 't', n: 1 } },
      { type: 'order.accepted', detail: { tenant: 't', n: 2 } },
    ]);
    expect(calls).toEqual([2, 1]);
    expect(billing.bodies.map((x) => JSON.parse(x).detail.n)).toEqual([2, 1]);

    b.setFaults({ failureRate: 1 });
    await expect(publisher.publish([{ type: 'order.accepted', detail: { tenant: 't' } }])).rejects.toThrow(
      TransientError,
    );
  });
});

describe('bus → queue → consumer', () => {
  const queues: LocalQueue[] = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
  });

  it('a matched event reaches the shared busEventHandler through an emulated queue, with partial batch failure', async () => {
    const handled: string[] = [];
    const handler = busEventHandler(async (event) => {
      if (event.detail.poison) throw new Error('cannot handle this one');
      handled.push(String(event.detail.orderId));
    });
    const queue = new LocalQueue({
      spec: {
        name: 'billing',
        consumer: 'billing-fn',
        visibilityTimeoutSeconds: 30,
        maxReceiveCount: 2,
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 2,
      },
      consumer: (event) => handler(event, testContext('billing-fn')),
    });
    queues.push(queue);
    const b = new LocalEventBus({
      name: BUS,
      // A detail type outside the catalog, so the consumer's catalog validation lets it through.
      rules: [
        {
          name: 'probe',
          description: '',
          pattern: { 'detail-type': ['local-probe.sent'] },
          queue: 'billing',
        },
      ],
      targets: { billing: queue },
    });
    const res = b.putEvents([
      entry('local-probe.sent', { tenant: 't', orderId: 'o1' }),
      entry('local-probe.sent', { tenant: 't', orderId: 'o2', poison: true }),
      entry('local-probe.ignored', { tenant: 't', orderId: 'o3' }),
    ]);
    expect(res.FailedEntryCount).toBe(0);
    await queue.pump();
    expect(handled).toEqual(['o1']);
    expect(queue.stats()).toMatchObject({ deleted: 1, inFlight: 1 });

    advanceClock(30_000);
    await queue.pump();
    advanceClock(30_000);
    await queue.pump();
    expect(queue.deadLetters().map((m) => JSON.parse(m.body).detail.orderId)).toEqual(['o2']);
    expect(handled).toEqual(['o1']);
  });
});
