import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformWiring } from '../../infra/wiring/platform.ts';
import { mergeWiring } from '../../infra/wiring.ts';
import type { WiringPart } from '../../infra/wiring-types.ts';
import { seen } from '../helpers/fixtures/probe-consumer.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/** A probe slice: one rule → queue → consumer, and one schedule, with a function-only env var. */
const probe: WiringPart = {
  functions: {
    'probe-consumer': {
      description: 'test probe',
      entry: 'test/helpers/fixtures/probe-consumer.ts',
      memoryMb: 128,
      timeoutSeconds: 5,
      uses: [],
      environment: { PROBE_ONLY: 'consumer' },
    },
    'probe-schedule': {
      description: 'test probe',
      entry: 'test/helpers/fixtures/probe-schedule.ts',
      memoryMb: 128,
      timeoutSeconds: 5,
      uses: [],
      environment: { PROBE_ONLY: 'schedule' },
    },
  },
  queues: {
    'probe-queue': {
      consumer: 'probe-consumer',
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
    },
  },
  rules: [
    {
      name: 'probe-rule',
      description: 'probe events with n ≥ 10 or flagged',
      pattern: {
        source: ['test.probe'],
        $or: [{ detail: { n: [{ numeric: ['>=', 10] }] } }, { detail: { fail: [true] } }],
      },
      queue: 'probe-queue',
    },
  ],
  schedules: [
    {
      name: 'probe-every-hour',
      description: 'probe',
      expression: 'rate(1 hour)',
      function: 'probe-schedule',
      input: { schedule: 'probe-every-hour', scheduledTime: '<aws.scheduler.scheduled-time>' },
    },
  ],
};

describe('bus → rule → queue → function through the local runtime', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  let client: EventBridgeClient;
  beforeAll(async () => {
    rt = await startTestRuntime({ wiring: mergeWiring([platformWiring, probe]) });
    client = new EventBridgeClient({
      endpoint: `${rt.url}/_aws`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await rt.cleanup();
  });

  const put = (details: object[]) =>
    client.send(
      new PutEventsCommand({
        Entries: details.map((d) => ({
          EventBusName: 'switchboard-local',
          Source: 'test.probe',
          DetailType: 'probe.sent',
          Detail: JSON.stringify(d),
        })),
      }),
    );

  it('delivers only matching events, as real SQS events wrapping real EventBridge envelopes', async () => {
    await put([{ n: 1 }, { n: 10 }, { n: 42 }]);
    await rt.drain();
    expect(seen.parseErrors).toEqual([]);
    expect(seen.deliveries.map((d) => d.detail.n).sort()).toEqual([10, 42]);
    expect(seen.deliveries.every((d) => d.env === 'consumer')).toBe(true);
    expect(process.env.PROBE_ONLY).toBeUndefined();
  });

  it('retries a failed record after its visibility timeout and dead-letters it after maxReceiveCount', async () => {
    seen.deliveries.length = 0;
    await put([{ n: 1, fail: true }, { n: 11 }]);
    await rt.drain();
    expect(seen.deliveries.filter((d) => d.detail.n === 11)).toHaveLength(1);
    for (let i = 0; i < 3; i++) await rt.advanceClock(31);
    const failing = seen.deliveries.filter((d) => d.detail.fail);
    expect(failing.map((d) => d.receiveCount)).toEqual(['1', '2', '3']);
    const queues = (await api(rt, 'GET', '/_local/queues')).body;
    expect(queues['probe-queue'].deadLettered).toBe(1);
    expect(seen.deliveries.filter((d) => d.detail.n === 11)).toHaveLength(1);
  });

  it('runs schedules when the clock passes them and on demand, with the function’s own env', async () => {
    await rt.advanceClock(3600);
    expect(seen.schedules.length).toBeGreaterThanOrEqual(1);
    const before = seen.schedules.length;
    expect((await api(rt, 'POST', '/_local/schedules/probe-every-hour')).status).toBe(200);
    expect(seen.schedules.length).toBe(before + 1);
    expect(seen.schedules.at(-1)).toMatchObject({ schedule: 'probe-every-hour', env: 'schedule' });
    expect((seen.schedules.at(-1) as { scheduledTime: string }).scheduledTime).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
