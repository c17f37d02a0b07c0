import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import type { QueueSpec } from '../../infra/wiring-types.ts';
import { nowMs } from '../../shared/clock.ts';

/**
 * An emulated SQS queue with a Lambda event source mapping in front of its consumer, so integration
 * functions run locally exactly as in AWS: batches of real `SQSEvent`s, visibility timeout, partial
 * batch failure (`batchItemFailures`), redrive to a dead-letter list after `maxReceiveCount`
 * receives, at most `maxConcurrency` batches in flight. Time is the hub clock (`nowMs`), so a test or
 * `POST /_local/clock` moves delays and visibility timeouts forward instead of sleeping.
 *
 * Deliberate differences from AWS: the batching window is not waited for (local feedback should be
 * immediate), there is no retention period, and message groups only serialise delivery (no
 * deduplication id).
 */

/**
 * The consumer: the function's `handler` export, invoked with a real SQS event. It should resolve
 * to an `SQSBatchResponse` or nothing; anything else is checked at run time (`readBatchResponse`).
 */
export type SqsConsumer = (event: SQSEvent) => Promise<unknown>;

export interface LocalQueueOptions {
  /** Manifest queue spec plus its name (the manifest key). */
  spec: QueueSpec & { name: string };
  /** Omit for a queue nobody consumes yet (messages wait until `setConsumer`). */
  consumer?: SqsConsumer;
  /**
   * Snapshot file: pending and dead-lettered messages survive a restart of the runtime. Next to it,
   * `<persistPath>.journal` receives every accepted send (and delete) synchronously before `send`
   * returns, so a process killed before the debounced snapshot loses no acknowledged message.
   */
  persistPath?: string;
  /** Whole-batch failure when the consumer takes longer (the function's timeout). Default 30 s. */
  invocationTimeoutMs?: number;
  region?: string;
  accountId?: string;
  /** Real-time period of the `start()` loop. Default 50 ms. */
  pollIntervalMs?: number;
  /** Debounce of snapshot writes. Default 25 ms. */
  persistDebounceMs?: number;
  /** Told about consumer errors and invalid responses (the runtime logs them). */
  onBatchError?: (error: unknown, info: { queue: string; messageIds: string[] }) => void;
}

export interface SendOptions {
  delaySeconds?: number;
  messageGroupId?: string;
}

const storedMessageSchema = z.object({
  messageId: z.string(),
  body: z.string(),
  md5OfBody: z.string(),
  sentAt: z.number(),
  visibleAt: z.number(),
  receiveCount: z.number().int().min(0),
  firstReceiveAt: z.number().optional(),
  messageGroupId: z.string().optional(),
  sequenceNumber: z.string().optional(),
  /** Set while in flight; the delete of a stale receipt (after the timeout expired) is ignored. */
  receiptHandle: z.string().optional(),
});
type StoredMessage = z.infer<typeof storedMessageSchema>;

const deadLetterSchema = storedMessageSchema.extend({ deadLetteredAt: z.number() });
/** A message moved to the dead-letter list after `maxReceiveCount` receives. */
export type DeadLetter = z.infer<typeof deadLetterSchema>;

const snapshotSchema = z.object({
  version: z.literal(1),
  queue: z.string(),
  sequence: z.number().int().min(0).default(0),
  messages: z.array(storedMessageSchema),
  deadLetters: z.array(deadLetterSchema),
});

export interface QueueStats {
  name: string;
  /** Visible now, waiting for a consumer slot. */
  visible: number;
  /** Not yet visible because of `delaySeconds`. */
  delayed: number;
  /** Received and neither deleted nor past their visibility timeout. */
  inFlight: number;
  deadLettered: number;
  batchesInFlight: number;
  sent: number;
  deleted: number;
  receives: number;
  failedBatches: number;
}

/** One line of the journal: an accepted message, or the delete of a processed one. */
const journalEntrySchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('send'), message: storedMessageSchema, sequence: z.number().int().min(0) }),
  z.object({ op: z.literal('delete'), messageId: z.string() }),
]);
type JournalEntry = z.infer<typeof journalEntrySchema>;

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly spec: QueueSpec;
  private consumer: SqsConsumer | undefined;
  private readonly region: string;
  private readonly accountId: string;
  private readonly invocationTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly persistDebounceMs: number;
  private readonly persistPath: string | undefined;
  private readonly onBatchError: LocalQueueOptions['onBatchError'];
  /** Arrival order, which is also the delivery order among visible messages. */
  private messages: StoredMessage[] = [];
  private dead: DeadLetter[] = [];
  private readonly batches = new Set<Promise<void>>();
  /** Receipt handles of the messages whose invocation is still running. */
  private readonly invoking = new Set<string>();
  private sequence = 0;
  private counters = { sent: 0, deleted: 0, receives: 0, failedBatches: 0 };
  private timer: NodeJS.Timeout | undefined;
  private persistTimer: NodeJS.Timeout | undefined;
  /** Open (append) descriptor of the journal; truncated whenever a snapshot is written. */
  private journalFd: number | undefined;
  /**
   * Set by `stop()`. Another queue's last consumer may still send here while the runtime stops; such
   * a change is written at once rather than on a timer, so nothing is lost and nothing is written
   * after the runtime has stopped.
   */
  private stopped = false;
  private running = false;

  constructor(options: LocalQueueOptions) {
    const { spec } = options;
    if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1 || spec.batchSize > 10_000) {
      throw new RangeError(`queue ${spec.name}: batchSize must be an integer in 1..10000`);
    }
    if (!Number.isInteger(spec.maxReceiveCount) || spec.maxReceiveCount < 1) {
      throw new RangeError(`queue ${spec.name}: maxReceiveCount must be a positive integer`);
    }
    if (!Number.isInteger(spec.maxConcurrency) || spec.maxConcurrency < 1) {
      throw new RangeError(`queue ${spec.name}: maxConcurrency must be a positive integer`);
    }
    if (!(spec.visibilityTimeoutSeconds >= 0)) {
      throw new RangeError(`queue ${spec.name}: visibilityTimeoutSeconds must be >= 0`);
    }
    this.name = spec.name;
    this.spec = spec;
    this.consumer = options.consumer;
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.arn = `arn:aws:sqs:${this.region}:${this.accountId}:${this.name}`;
    this.invocationTimeoutMs = options.invocationTimeoutMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.persistDebounceMs = options.persistDebounceMs ?? 25;
    this.persistPath = options.persistPath;
    this.onBatchError = options.onBatchError;
    if (this.persistPath) this.load(this.persistPath);
  }

  /** Attaches (or replaces) the consumer; the runtime may build queues before loading handlers. */
  setConsumer(consumer: SqsConsumer | undefined): void {
    this.consumer = consumer;
    this.wake();
  }

  /** Accepts a message (SQS SendMessage); it becomes visible after `delaySeconds` (0..900). */
  send(body: string, options: SendOptions = {}): string {
    if (typeof body !== 'string' || body.length === 0)
      throw new TypeError('message body must be a non-empty string');
    if (Buffer.byteLength(body, 'utf8') > 256 * 1024) throw new RangeError('message body exceeds 256 KiB');
    const delay = options.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) {
      throw new RangeError('delaySeconds must be an integer in 0..900');
    }
    const now = nowMs();
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5(body),
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    if (options.messageGroupId !== undefined) {
      message.messageGroupId = options.messageGroupId;
      message.sequenceNumber = String(++this.sequence).padStart(20, '0');
    }
    this.messages.push(message);
    this.counters.sent++;
    // Durable (in the OS, so a SIGKILL cannot lose it) before the caller is told it was accepted.
    this.journal({ op: 'send', message, sequence: this.sequence });
    this.schedulePersist();
    this.wake();
    return message.messageId;
  }

  /** Starts the real-time loop that delivers visible messages as consumer slots free up. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    const loop = () => {
      if (!this.running) return;
      this.dispatch();
      this.timer = setTimeout(loop, this.pollIntervalMs);
    };
    loop();
  }

  /** Stops the loop, waits for the batches in flight, and writes the snapshot. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.batches.size > 0) await Promise.allSettled([...this.batches]);
    this.flush();
  }

  /** Closes the journal descriptor (after `stop`; a later change reopens it). */
  private closeJournal(): void {
    if (this.journalFd === undefined) return;
    closeSync(this.journalFd);
    this.journalFd = undefined;
  }

  private journalPath(): string | undefined {
    return this.persistPath ? `${this.persistPath}.journal` : undefined;
  }

  /** Appends one entry to the journal with a synchronous write (no-op without `persistPath`). */
  private journal(entry: JournalEntry): void {
    const path = this.journalPath();
    if (!path) return;
    if (this.journalFd === undefined) {
      mkdirSync(dirname(path), { recursive: true });
      this.journalFd = openSync(path, 'a');
    }
    writeSync(this.journalFd, `${JSON.stringify(entry)}\n`);
  }

  /**
   * Delivers everything visible now (including what consumers send meanwhile), respecting the
   * concurrency cap, and resolves when those batches have finished. Used by tests and right after
   * the clock moves.
   */
  async pump(): Promise<void> {
    for (;;) {
      this.dispatch();
      if (this.batches.size === 0) return;
      await Promise.race(this.batches);
    }
  }

  /**
   * Pumps until nothing is pending (visible, delayed or in flight) and no batch runs, waiting in
   * real time for delays and visibility timeouts. Resolves false if `timeoutMs` passes first.
   */
  async drain({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pump();
      if (this.messages.length === 0 && this.batches.size === 0) return true;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      const nextVisible = Math.min(...this.messages.map((m) => m.visibleAt)) - nowMs();
      await sleep(Math.max(1, Math.min(remaining, nextVisible, 50)));
    }
  }

  stats(): QueueStats {
    const now = nowMs();
    let visible = 0;
    let delayed = 0;
    let inFlight = 0;
    for (const m of this.messages) {
      if (m.visibleAt <= now) visible++;
      else if (m.receiptHandle) inFlight++;
      else delayed++;
    }
    return {
      name: this.name,
      visible,
      delayed,
      inFlight,
      deadLettered: this.dead.length,
      batchesInFlight: this.batches.size,
      ...this.counters,
    };
  }

  /** Messages that exhausted `maxReceiveCount`, oldest first (copies). */
  deadLetters(): DeadLetter[] {
    return this.dead.map((d) => ({ ...d }));
  }

  /**
   * Moves dead letters back to the queue as fresh messages (receive count reset, same id and body),
   * like the SQS console's "start DLQ redrive". Returns how many moved.
   */
  redrive(filter: (message: DeadLetter) => boolean = () => true): number {
    const now = nowMs();
    const moving = this.dead.filter(filter);
    if (moving.length === 0) return 0;
    this.dead = this.dead.filter((d) => !moving.includes(d));
    for (const { deadLetteredAt: _, receiptHandle: __, firstReceiveAt: ___, ...message } of moving) {
      this.messages.push({ ...message, sentAt: now, visibleAt: now, receiveCount: 0 });
    }
    this.schedulePersist();
    this.wake();
    return moving.length;
  }

  /** Discards pending messages and dead letters (SQS PurgeQueue, for test resets). */
  purge(): void {
    this.messages = [];
    this.dead = [];
    // At once: the journal still lists the purged sends, and a replay must not bring them back.
    if (this.persistPath) this.flush();
  }

  /** Writes the snapshot now (atomic: temp file + rename). No-op without `persistPath`. */
  flush(): void {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    if (!this.persistPath) return;
    const snapshot: z.input<typeof snapshotSchema> = {
      version: 1,
      queue: this.name,
      sequence: this.sequence,
      messages: this.messages,
      deadLetters: this.dead,
    };
    mkdirSync(dirname(this.persistPath), { recursive: true });
    const temp = `${this.persistPath}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(snapshot));
    renameSync(temp, this.persistPath);
    // Compaction: everything journaled is now in the snapshot. A crash between the rename and the
    // truncate only replays entries the snapshot already reflects (sends are keyed by message id).
    if (this.journalFd !== undefined) {
      ftruncateSync(this.journalFd, 0);
      if (this.stopped) this.closeJournal();
    }
  }

  private load(path: string): void {
    if (!existsSync(path)) {
      this.replayJournal();
      return;
    }
    let snapshot: z.infer<typeof snapshotSchema>;
    try {
      snapshot = snapshotSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    } catch (error) {
      throw new Error(
        `queue ${this.name}: snapshot ${path} is unreadable (${String(error)}); move it aside to start empty`,
      );
    }
    const now = nowMs();
    this.sequence = snapshot.sequence;
    this.dead = snapshot.deadLetters;
    // Whatever was in flight when the runtime stopped was never acknowledged: it comes back now.
    this.messages = snapshot.messages.map(({ receiptHandle, ...m }) =>
      receiptHandle ? { ...m, visibleAt: Math.min(m.visibleAt, now) } : m,
    );
    this.replayJournal();
  }

  /**
   * Applies the journal written since the last snapshot: sends not in the snapshot come back,
   * journaled deletes remove theirs. A torn last line (killed mid-write) was never acknowledged and
   * is skipped. The result is written as a snapshot at once and the journal emptied.
   */
  private replayJournal(): void {
    const path = this.journalPath();
    if (!path || !existsSync(path)) return;
    const known = new Set([...this.messages, ...this.dead].map((m) => m.messageId));
    let replayed = 0;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let entry: JournalEntry;
      try {
        entry = journalEntrySchema.parse(JSON.parse(line));
      } catch {
        continue;
      }
      if (entry.op === 'send') {
        if (known.has(entry.message.messageId)) continue;
        known.add(entry.message.messageId);
        const { receiptHandle: _, ...message } = entry.message;
        this.messages.push(message);
        this.sequence = Math.max(this.sequence, entry.sequence);
      } else {
        this.messages = this.messages.filter((m) => m.messageId !== entry.messageId);
      }
      replayed++;
    }
    if (replayed > 0) this.flush();
    writeFileSync(path, '');
  }

  private schedulePersist(): void {
    if (!this.persistPath) return;
    if (this.stopped) {
      this.flush();
      return;
    }
    if (this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      this.flush();
    }, this.persistDebounceMs);
  }

  private wake(): void {
    if (this.running) queueMicrotask(() => this.dispatch());
  }

  /** Fills free concurrency slots with batches of visible messages. */
  private dispatch(): void {
    if (!this.consumer) return;
    while (this.batches.size < this.spec.maxConcurrency) {
      const records = this.receive();
      if (records.length === 0) return;
      const batch = this.deliver(records).finally(() => this.batches.delete(batch));
      this.batches.add(batch);
    }
  }

  /**
   * SQS ReceiveMessage: takes up to `batchSize` visible messages, moving those already received
   * `maxReceiveCount` times to the dead letters instead. A message group with a message in flight
   * (or waiting to be retried) blocks its later messages, as FIFO queues do.
   */
  private receive(): SQSRecord[] {
    const now = nowMs();
    const records: SQSRecord[] = [];
    const blockedGroups = new Set<string>();
    let moved = false;
    for (const message of [...this.messages]) {
      if (records.length >= this.spec.batchSize) break;
      const group = message.messageGroupId;
      if (group !== undefined && blockedGroups.has(group)) continue;
      // Past its visibility timeout but its invocation still running: only a clock move gets here (in
      // AWS the visibility timeout, ≥ 6× the function timeout, cannot lapse before Lambda ends the
      // invocation). It comes back once that invocation has ended, as it would in AWS.
      const held = message.receiptHandle !== undefined && this.invoking.has(message.receiptHandle);
      if (message.visibleAt > now || held) {
        if (group !== undefined && message.receiveCount > 0) blockedGroups.add(group);
        continue;
      }
      if (message.receiveCount >= this.spec.maxReceiveCount) {
        this.messages = this.messages.filter((m) => m !== message);
        const { receiptHandle: _, ...rest } = message;
        this.dead.push({ ...rest, deadLetteredAt: now });
        moved = true;
        continue;
      }
      message.receiveCount++;
      message.firstReceiveAt ??= now;
      message.visibleAt = now + this.spec.visibilityTimeoutSeconds * 1000;
      message.receiptHandle = randomBytes(48).toString('base64');
      this.counters.receives++;
      records.push(this.toRecord(message));
    }
    if (records.length > 0 || moved) this.schedulePersist();
    return records;
  }

  private toRecord(message: StoredMessage): SQSRecord {
    const attributes: SQSRecord['attributes'] = {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: 'AIDALOCALSWITCHBOARD0',
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt ?? message.sentAt),
    };
    if (message.messageGroupId !== undefined) {
      attributes.MessageGroupId = message.messageGroupId;
      attributes.SequenceNumber = message.sequenceNumber;
    }
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle!,
      body: message.body,
      attributes,
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: this.region,
    };
  }

  /** Invokes the consumer once and applies its verdict (delete successes, keep failures). */
  private async deliver(records: SQSRecord[]): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const ids = records.map((r) => r.messageId);
    let failed: Set<string>;
    for (const r of records) this.invoking.add(r.receiptHandle);
    try {
      const response = await this.withTimeout(consumer({ Records: records }));
      failed = readBatchResponse(response, ids);
    } catch (error) {
      // A throw, a timeout or an invalid response fails the whole batch, as Lambda does.
      this.counters.failedBatches++;
      this.onBatchError?.(error, { queue: this.name, messageIds: ids });
      return;
    } finally {
      for (const r of records) this.invoking.delete(r.receiptHandle);
      this.wake(); // a message held past its visibility timeout may be received again now
    }
    let changed = false;
    for (const record of records) {
      if (failed.has(record.messageId)) continue;
      const before = this.messages.length;
      this.messages = this.messages.filter((m) => m.receiptHandle !== record.receiptHandle);
      if (this.messages.length < before) {
        this.counters.deleted++;
        this.journal({ op: 'delete', messageId: record.messageId });
        changed = true;
      }
    }
    if (failed.size > 0) this.counters.failedBatches++;
    if (changed) this.schedulePersist();
    // Freed slots and anything the consumer sent may be deliverable right away.
    this.wake();
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`consumer of ${this.name} timed out after ${this.invocationTimeoutMs} ms`)),
        this.invocationTimeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * Reads a partial batch response the way the Lambda event source mapping does: no response or no
 * `batchItemFailures` means all succeeded; an identifier that is empty or not in the batch makes
 * the response invalid, which fails the whole batch.
 */
export function readBatchResponse(response: unknown, ids: string[]): Set<string> {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') throw new Error('consumer returned a non-object batch response');
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new Error('batchItemFailures must be an array');
  const known = new Set(ids);
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !known.has(id)) {
      throw new Error(`batchItemFailures names ${JSON.stringify(id)}, which is not in the batch`);
    }
    failed.add(id);
  }
  return failed;
}
