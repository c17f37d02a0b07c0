import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueueSpec } from '../../../infra/wiring-types.ts';
import { LocalQueue, type LocalQueueOptions, type SqsConsumer } from '../../../local/bus/queue.ts';
import { advanceClock } from '../../../shared/clock.ts';

const spec = (overrides: Partial<QueueSpec & { name: string }> = {}): QueueSpec & { name: string } => ({
  name: 'test-queue',
  consumer: 'test-fn',
  visibilityTimeoutSeconds: 60,
  maxReceiveCount: 3,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 2,
  ...overrides,
});

/** A consumer that records every event and answers with `decide(records)`. */
function recorder(decide: (records: SQSRecord[]) => SQSBatchResponse | undefined = () => undefined) {
  const events: SQSEvent[] = [];
  const consumer: SqsConsumer = async (event) => {
    events.push(structuredClone(event));
    return decide(event.Records);
  };
  const deliveries = () => events.flatMap((e) => e.Records);
  return { events, consumer, deliveries, bodies: () => deliveries().map((r) => r.body) };
}

const queues: LocalQueue[] = [];
const dirs: string[] = [];
function queue(options: Omit<LocalQueueOptions, 'spec'> & { spec?: QueueSpec & { name: string } }) {
  const q = new LocalQueue({ spec: spec(), ...options });
  queues.push(q);
  return q;
}
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('LocalQueue delivery', () => {
  it('invokes the consumer with a real SQS event that the Powertools SqsSchema parses', async () => {
    const r = recorder();
    const q = queue({ consumer: r.consumer, region: 'eu-west-1' });
    const id = q.send('{"hello":"world"}');
    await q.pump();

    expect(r.events).toHaveLength(1);
    const event = SqsSchema.parse(r.events[0]);
    const record = event.Records[0]!;
    expect(record.messageId).toBe(id);
    expect(record.body).toBe('{"hello":"world"}');
    expect(record.md5OfBody).toBe(createHash('md5').update('{"hello":"world"}').digest('hex'));
    expect(record.eventSource).toBe('aws:sqs');
    expect(record.eventSourceARN).toBe('arn:aws:sqs:eu-west-1:000000000000:test-queue');
    expect(record.awsRegion).toBe('eu-west-1');
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(record.receiptHandle.length).toBeGreaterThan(20);
    expect(q.stats()).toMatchObject({ visible: 0, inFlight: 0, sent: 1, deleted: 1 });
  });

  it('delivers in batches of at most batchSize, in arrival order', async () => {
    const r = recorder();
    const q = queue({ consumer: r.consumer, spec: spec({ batchSize: 3, maxConcurrency: 1 }) });
    for (let i = 0; i < 7; i++) q.send(`m${i}`);
    await q.pump();
    expect(r.events.map((e) => e.Records.length)).toEqual([3, 3, 1]);
    expect(r.bodies()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('holds a delayed message until the clock reaches its delay', async () => {
    const r = recorder();
    const q = queue({ consumer: r.consumer });
    q.send('later', { delaySeconds: 60 });
    await q.pump();
    expect(r.deliveries()).toHaveLength(0);
    expect(q.stats()).toMatchObject({ delayed: 1, visible: 0 });

    advanceClock(59_000);
    await q.pump();
    expect(r.deliveries()).toHaveLength(0);

    advanceClock(1_000);
    await q.pump();
    expect(r.bodies()).toEqual(['later']);
  });

  it('rejects a bad send without accepting anything', () => {
    const q = queue({});
    expect(() => q.send('')).toThrow(/non-empty/);
    expect(() => q.send('x', { delaySeconds: 901 })).toThrow(/delaySeconds/);
    expect(() => q.send('x'.repeat(256 * 1024 + 1))).toThrow(/256 KiB/);
    expect(q.stats().sent).toBe(0);
  });

  it('never has more than maxConcurrency batches in flight', async () => {
    const releases: (() => void)[] = [];
    let active = 0;
    let maxActive = 0;
    const consumer: SqsConsumer = async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => releases.push(resolve));
      active--;
    };
    const q = queue({ consumer, spec: spec({ batchSize: 1, maxConcurrency: 2 }) });
    for (let i = 0; i < 5; i++) q.send(`m${i}`);
    const pumping = q.pump();
    await Promise.resolve();
    expect(q.stats().batchesInFlight).toBe(2);
    expect(q.stats()).toMatchObject({ inFlight: 2, visible: 3 });
    // Release batches one at a time until everything is delivered.
    for (let spins = 0; q.stats().deleted < 5 && spins < 1_000; spins++) {
      const release = releases.shift();
      if (release) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pumping;
    expect(maxActive).toBe(2);
    expect(q.stats().deleted).toBe(5);
  });
});

describe('LocalQueue failures', () => {
  it('partial batch failure deletes the successes; only the failed ids come back after the visibility timeout', async () => {
    let failBody: string | undefined = 'b';
    const r = recorder((records) => ({
      batchItemFailures: records
        .filter((x) => x.body === failBody)
        .map((x) => ({ itemIdentifier: x.messageId })),
    }));
    const q = queue({ consumer: r.consumer, spec: spec({ visibilityTimeoutSeconds: 30 }) });
    q.send('a');
    const failedId = q.send('b');
    q.send('c');
    await q.pump();
    expect(r.events).toHaveLength(1);
    expect(q.stats()).toMatchObject({ inFlight: 1, visible: 0, deleted: 2 });

    // Still invisible just before the timeout.
    advanceClock(29_000);
    await q.pump();
    expect(r.events).toHaveLength(1);

    failBody = undefined;
    advanceClock(1_000);
    await q.pump();
    expect(r.events).toHaveLength(2);
    const retry = r.events[1]!.Records;
    expect(retry.map((x) => x.messageId)).toEqual([failedId]);
    expect(retry[0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(q.stats()).toMatchObject({ inFlight: 0, visible: 0, deleted: 3 });
  });

  it('a thrown error fails the whole batch', async () => {
    let fail = true;
    const calls: string[][] = [];
    const consumer: SqsConsumer = async (event) => {
      calls.push(event.Records.map((r) => r.body));
      if (fail) throw new Error('boom');
    };
    const errors: unknown[] = [];
    const q = queue({ consumer, onBatchError: (e) => errors.push(e) });
    q.send('a');
    q.send('b');
    await q.pump();
    expect(errors).toHaveLength(1);
    expect(q.stats()).toMatchObject({ inFlight: 2, failedBatches: 1 });

    fail = false;
    advanceClock(60_000);
    await q.pump();
    expect(calls).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(q.stats()).toMatchObject({ inFlight: 0, deleted: 2 });
  });

  it('a consumer timeout fails the whole batch', async () => {
    let release: (() => void) | undefined;
    const consumer: SqsConsumer = () =>
      new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
    const errors: string[] = [];
    const q = queue({ consumer, invocationTimeoutMs: 20, onBatchError: (e) => errors.push(String(e)) });
    q.send('slow');
    await q.pump();
    expect(errors[0]).toMatch(/timed out after 20 ms/);
    // The late success of the abandoned invocation does not delete the message.
    release?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(q.stats()).toMatchObject({ inFlight: 1, deleted: 0 });
  });

  it('a clock move past the visibility timeout does not hand a message to a second invocation while the first runs', async () => {
    let release: (() => void) | undefined;
    let calls = 0;
    const consumer: SqsConsumer = async () => {
      calls++;
      if (calls === 1) {
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error('first attempt failed');
      }
      return undefined;
    };
    const q = queue({ consumer, spec: spec({ visibilityTimeoutSeconds: 30 }) });
    q.send('long');
    q.start();
    await vi.waitFor(() => expect(calls).toBe(1));
    advanceClock(10 * 60_000); // far past the visibility timeout, the first invocation still running
    await new Promise((resolve) => setTimeout(resolve, 150)); // the delivery loop runs meanwhile
    expect(calls).toBe(1);
    // Once that invocation has ended (failed), the message is received again.
    release?.();
    await vi.waitFor(() => expect(calls).toBe(2));
    await vi.waitFor(() => expect(q.stats()).toMatchObject({ visible: 0, inFlight: 0, deleted: 1 }));
  });

  it('a batchItemFailures id that is not in the batch fails the whole batch', async () => {
    const r = recorder(() => ({ batchItemFailures: [{ itemIdentifier: 'not-a-message' }] }));
    const errors: string[] = [];
    const q = queue({ consumer: r.consumer, onBatchError: (e) => errors.push(String(e)) });
    q.send('a');
    q.send('b');
    await q.pump();
    expect(errors[0]).toMatch(/not-a-message/);
    expect(q.stats()).toMatchObject({ inFlight: 2, deleted: 0 });
  });

  it('moves a message to the dead letters after maxReceiveCount receives, and redrives it', async () => {
    let fail = true;
    const r = recorder((records) =>
      fail ? { batchItemFailures: records.map((x) => ({ itemIdentifier: x.messageId })) } : undefined,
    );
    const q = queue({
      consumer: r.consumer,
      spec: spec({ maxReceiveCount: 2, visibilityTimeoutSeconds: 10 }),
    });
    const id = q.send('poison');
    q.send('fine');
    fail = true;
    await q.pump();
    advanceClock(10_000);
    await q.pump();
    expect(r.deliveries().map((x) => x.attributes.ApproximateReceiveCount)).toEqual(['1', '1', '2', '2']);

    // The third receive does not reach the consumer: both go to the dead letters.
    advanceClock(10_000);
    await q.pump();
    expect(r.deliveries()).toHaveLength(4);
    expect(q.stats()).toMatchObject({ deadLettered: 2, visible: 0, inFlight: 0 });
    const dead = q.deadLetters();
    expect(dead.map((m) => m.body)).toEqual(['poison', 'fine']);
    expect(dead[0]).toMatchObject({ messageId: id, receiveCount: 2 });

    fail = false;
    expect(q.redrive((m) => m.body === 'poison')).toBe(1);
    await q.pump();
    const last = r.deliveries().at(-1)!;
    expect(last).toMatchObject({ messageId: id, body: 'poison' });
    expect(last.attributes.ApproximateReceiveCount).toBe('1');
    expect(q.stats()).toMatchObject({ deadLettered: 1, visible: 0, inFlight: 0 });
  });

  it('keeps a message group in order: a failed message blocks the rest of its group only', async () => {
    let failFirst = true;
    const r = recorder((records) => ({
      batchItemFailures:
        failFirst && records[0]?.body === 'g1-first' ? [{ itemIdentifier: records[0].messageId }] : [],
    }));
    const q = queue({ consumer: r.consumer, spec: spec({ batchSize: 1, maxConcurrency: 1 }) });
    q.send('g1-first', { messageGroupId: 'g1' });
    q.send('g1-second', { messageGroupId: 'g1' });
    q.send('g2-only', { messageGroupId: 'g2' });
    await q.pump();
    expect(r.bodies()).toEqual(['g1-first', 'g2-only']);
    expect(r.deliveries()[0]!.attributes.MessageGroupId).toBe('g1');

    failFirst = false;
    advanceClock(60_000);
    await q.pump();
    expect(r.bodies()).toEqual(['g1-first', 'g2-only', 'g1-first', 'g1-second']);
  });
});

describe('LocalQueue loop and drain', () => {
  it('start() delivers without pumping; stop() waits for the batch in flight', async () => {
    let finished = false;
    let delivered!: () => void;
    const reached = new Promise<void>((resolve) => (delivered = resolve));
    const consumer: SqsConsumer = async () => {
      delivered();
      await new Promise((resolve) => setImmediate(resolve));
      finished = true;
    };
    const q = queue({ consumer, pollIntervalMs: 5 });
    q.start();
    q.send('x');
    await reached;
    await q.stop();
    expect(finished).toBe(true);
    expect(q.stats()).toMatchObject({ deleted: 1, batchesInFlight: 0 });
  });

  it('drain() follows messages the consumer sends and reports an undrainable queue', async () => {
    let q!: LocalQueue;
    const seen: string[] = [];
    const consumer: SqsConsumer = async (event) => {
      for (const record of event.Records) {
        seen.push(record.body);
        if (record.body === 'first') q.send('follow-up');
      }
    };
    q = queue({ consumer });
    q.send('first');
    expect(await q.drain({ timeoutMs: 5_000 })).toBe(true);
    expect(seen).toEqual(['first', 'follow-up']);

    const idle = queue({ spec: spec({ name: 'no-consumer' }) });
    idle.send('stuck');
    expect(await idle.drain({ timeoutMs: 30 })).toBe(false);
  });
});

describe('LocalQueue persistence', () => {
  const tempFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-queue-'));
    dirs.push(dir);
    return join(dir, 'queues', 'test-queue.json');
  };

  it('a re-constructed queue keeps pending, delayed and dead messages; in-flight ones reappear', async () => {
    const path = tempFile();
    const failing = recorder((records) => ({
      batchItemFailures: records
        .filter((x) => x.body !== 'done')
        .map((x) => ({ itemIdentifier: x.messageId })),
    }));
    const first = new LocalQueue({
      spec: spec({ maxReceiveCount: 1 }),
      consumer: failing.consumer,
      persistPath: path,
    });
    first.send('poison');
    await first.pump();
    advanceClock(60_000);
    await first.pump(); // poison → dead letters
    const inFlightId = first.send('in-flight');
    first.send('done');
    await first.pump(); // in-flight fails (in flight for 60 s), done is deleted
    first.send('pending');
    first.send('delayed', { delaySeconds: 120 });
    await first.stop();
    expect(readdirSync(join(path, '..')).sort()).toEqual(['test-queue.json', 'test-queue.json.journal']); // no temp file left

    const r = recorder();
    const second = queue({ consumer: r.consumer, persistPath: path });
    expect(second.stats()).toMatchObject({ visible: 2, delayed: 1, inFlight: 0, deadLettered: 1 });
    expect(second.deadLetters().map((m) => m.body)).toEqual(['poison']);
    await second.pump();
    expect(r.bodies()).toEqual(['in-flight', 'pending']);
    const again = r.deliveries()[0]!;
    expect(again.messageId).toBe(inFlightId);
    expect(again.attributes.ApproximateReceiveCount).toBe('2');

    advanceClock(120_000);
    await second.pump();
    expect(r.bodies()).toEqual(['in-flight', 'pending', 'delayed']);
    await second.stop();

    const third = queue({ persistPath: path });
    expect(third.stats()).toMatchObject({ visible: 0, delayed: 0, inFlight: 0, deadLettered: 1 });
  });

  it('writes the snapshot by itself shortly after a send, so a crash without stop() loses nothing', async () => {
    const path = tempFile();
    const first = new LocalQueue({ spec: spec(), persistPath: path, persistDebounceMs: 1 });
    const id = first.send('accepted');
    await vi.waitFor(() => expect(existsSync(path)).toBe(true));
    // No stop(), no flush(): the runtime died. A new one finds the message.
    const r = recorder();
    const second = queue({ consumer: r.consumer, persistPath: path });
    await second.pump();
    expect(r.deliveries().map((x) => [x.messageId, x.body])).toEqual([[id, 'accepted']]);
  });

  it('after stop(), a late send is written at once, not on a timer that fires after the runtime stopped', async () => {
    const path = tempFile();
    const q = new LocalQueue({ spec: spec(), persistPath: path, persistDebounceMs: 60_000 });
    await q.stop();
    const id = q.send('sent by another queue while the runtime stops');
    // With the 60 s debounce, only a synchronous write can have put it there already.
    const r = recorder();
    const reloaded = queue({ consumer: r.consumer, persistPath: path });
    await reloaded.pump();
    expect(r.deliveries().map((x) => x.messageId)).toEqual([id]);
  });

  it('refuses a corrupt snapshot with a message naming the file', () => {
    const path = tempFile();
    const q = queue({ persistPath: path });
    q.send('x');
    q.flush();
    expect(existsSync(path)).toBe(true);
    writeFileSync(path, '{"version":1,"messages":"nope"}');
    expect(() => new LocalQueue({ spec: spec(), persistPath: path })).toThrow(
      /snapshot .*test-queue\.json is unreadable/,
    );
  });
});
