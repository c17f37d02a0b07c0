import { randomUUID } from 'node:crypto';
import type {
  PutEventsRequestEntry,
  PutEventsResponse,
  PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import type { RuleSpec } from '../../infra/wiring-types.ts';
import { nowMs } from '../../shared/clock.ts';
import { matchesPattern, type Pattern, validatePattern } from './pattern.ts';

/**
 * The in-process EventBridge bus of the local runtime: `PutEvents` with AWS's per-entry validation
 * and response shape, the real event envelope, the manifest's rules applied with EventBridge pattern
 * semantics, and delivery of the envelope JSON to each matching rule's queue (as the SQS rule target
 * does in AWS). Keeps the last events for the `/_local/events` inspection route.
 */

/** Where a rule delivers: a `LocalQueue` satisfies it. */
export interface RuleTarget {
  send(body: string): unknown;
}

/** The envelope every target receives (what `EventBridgeSchema` parses). */
export interface BusEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface ArchivedEvent {
  /** Bus the entry named (`default` when it named none). */
  bus: string;
  envelope: BusEnvelope;
  /** Names of the rules that matched, in manifest order. */
  matchedRules: string[];
  /** Rules whose target refused the message (should be empty). */
  deliveryErrors: { rule: string; error: string }[];
}

export interface BusFaults {
  /** Fraction (0..1) of otherwise valid entries answered with an error instead of being accepted. */
  failureRate: number;
  /** `InternalFailure` (retryable, the default) or `ThrottlingException`. */
  errorCode?: 'InternalFailure' | 'ThrottlingException';
}

export interface LocalEventBusOptions {
  /** The hub bus name (EVENT_BUS_NAME); entries may name it or its ARN. */
  name: string;
  rules: RuleSpec[];
  /** Rule target lookup by queue name (the rule's `queue`). */
  targets: Record<string, RuleTarget> | ((queue: string) => RuleTarget | undefined);
  region?: string;
  accountId?: string;
  /** Archive size for inspection. Default 200. */
  archiveSize?: number;
  /** Random source for fault injection (seedable in tests). */
  random?: () => number;
}

/** An input entry as the SDK sends it; over HTTP `Time` arrives as epoch seconds or a string. */
export type PutEventsEntryInput = Omit<PutEventsRequestEntry, 'Time'> & { Time?: Date | number | string };

/** A whole-request error (AWS answers these with a 400 and no entries). */
export class PutEventsValidationError extends Error {
  readonly code = 'ValidationException';
  constructor(message: string) {
    super(message);
    this.name = 'PutEventsValidationError';
  }
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

/** ISO 8601 without milliseconds, as EventBridge writes `time`. */
export const eventTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class LocalEventBus {
  readonly name: string;
  readonly arn: string;
  private readonly rules: { spec: RuleSpec; target: RuleTarget }[];
  private readonly region: string;
  private readonly accountId: string;
  private readonly archiveSize: number;
  private readonly random: () => number;
  private archive: ArchivedEvent[] = [];
  private faults: BusFaults = { failureRate: 0 };

  constructor(options: LocalEventBusOptions) {
    this.name = options.name;
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.arn = `arn:aws:events:${this.region}:${this.accountId}:event-bus/${this.name}`;
    this.archiveSize = options.archiveSize ?? 200;
    this.random = options.random ?? Math.random;
    const lookup =
      typeof options.targets === 'function'
        ? options.targets
        : (queue: string) => (options.targets as Record<string, RuleTarget>)[queue];
    // Fail at start-up, naming the rule, rather than silently never matching.
    this.rules = options.rules.map((spec) => {
      try {
        validatePattern(spec.pattern);
      } catch (error) {
        throw new Error(`rule ${spec.name}: ${(error as Error).message}`);
      }
      const target = lookup(spec.queue);
      if (!target) throw new Error(`rule ${spec.name}: target queue ${spec.queue} does not exist`);
      return { spec, target };
    });
  }

  /** The rules this bus applies, in manifest order (for the manifest-agreement test). */
  ruleSpecs(): RuleSpec[] {
    return this.rules.map((r) => r.spec);
  }

  /** Fault injection for tests of the publisher's `FailedEntryCount` handling. */
  setFaults(faults: BusFaults): void {
    if (!(faults.failureRate >= 0 && faults.failureRate <= 1))
      throw new RangeError('failureRate must be in 0..1');
    this.faults = { ...faults };
  }

  /**
   * EventBridge `PutEvents`. Invalid entries get a per-entry `ErrorCode` and the others are still
   * accepted, exactly as AWS does; only a request-level problem (no entries, more than 10, over
   * 256 KB) throws `PutEventsValidationError`.
   */
  putEvents(entries: PutEventsEntryInput[]): PutEventsResponse {
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      throw new PutEventsValidationError(`Entries must hold between 1 and ${MAX_ENTRIES} entries`);
    }
    const size = entries.reduce((sum, e) => sum + entrySize(e), 0);
    if (size > MAX_REQUEST_BYTES) {
      throw new PutEventsValidationError(
        `Total size of the entries in the request is over the limit (${size} bytes)`,
      );
    }
    const results: PutEventsResultEntry[] = entries.map((entry) => this.putEntry(entry));
    return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
  }

  /** The last events (newest last), optionally filtered by detail type. */
  events(filter: { detailType?: string; limit?: number } = {}): ArchivedEvent[] {
    const list = filter.detailType
      ? this.archive.filter((a) => a.envelope['detail-type'] === filter.detailType)
      : this.archive;
    return list.slice(-(filter.limit ?? this.archiveSize));
  }

  clearArchive(): void {
    this.archive = [];
  }

  /** Which rules (by name) an envelope would match; for `/_local` diagnostics and tests. */
  matchingRules(envelope: unknown): string[] {
    return this.rules
      .filter((r) => matchesPattern(r.spec.pattern as Pattern, envelope))
      .map((r) => r.spec.name);
  }

  private putEntry(entry: PutEventsEntryInput): PutEventsResultEntry {
    const checked = this.check(entry);
    if (!('envelope' in checked)) return checked;
    if (this.faults.failureRate > 0 && this.random() < this.faults.failureRate) {
      return {
        ErrorCode: this.faults.errorCode ?? 'InternalFailure',
        ErrorMessage: 'Injected fault (local bus)',
      };
    }
    const { bus, envelope } = checked;
    const archived: ArchivedEvent = { bus, envelope, matchedRules: [], deliveryErrors: [] };
    // Rules belong to the hub bus; an event sent to `default` is accepted and matches nothing there.
    if (bus === this.name) {
      const body = JSON.stringify(envelope);
      for (const { spec, target } of this.rules) {
        if (!matchesPattern(spec.pattern as Pattern, envelope)) continue;
        archived.matchedRules.push(spec.name);
        try {
          target.send(body);
        } catch (error) {
          archived.deliveryErrors.push({ rule: spec.name, error: (error as Error).message });
        }
      }
    }
    this.archive.push(archived);
    if (this.archive.length > this.archiveSize)
      this.archive.splice(0, this.archive.length - this.archiveSize);
    return { EventId: envelope.id };
  }

  private check(entry: PutEventsEntryInput): { bus: string; envelope: BusEnvelope } | PutEventsResultEntry {
    const invalid = (message: string) => ({ ErrorCode: 'InvalidArgument', ErrorMessage: message });
    if (typeof entry !== 'object' || entry === null) return invalid('Entry is not an object.');
    const bus = this.busName(entry.EventBusName);
    if (bus === undefined) return invalid(`Event bus ${entry.EventBusName} does not exist.`);
    if (typeof entry.Source !== 'string' || entry.Source.length === 0) {
      return invalid('Parameter Source is not valid. Reason: Source is a required argument.');
    }
    if (entry.Source.startsWith('aws.')) {
      return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    }
    if (typeof entry.DetailType !== 'string' || entry.DetailType.length === 0) {
      return invalid('Parameter DetailType is not valid. Reason: DetailType is a required argument.');
    }
    if (typeof entry.Detail !== 'string' || entry.Detail.length === 0) {
      return invalid('Parameter Detail is not valid. Reason: Detail is a required argument.');
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed: it must be a JSON object.' };
    }
    const resources = entry.Resources ?? [];
    if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
      return invalid('Parameter Resources is not valid. Reason: Resources must be a list of strings.');
    }
    const time = entryTime(entry.Time);
    if (time === undefined) return invalid('Parameter Time is not valid.');
    return {
      bus,
      envelope: {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: this.accountId,
        time: eventTime(time),
        region: this.region,
        resources: [...resources],
        detail: detail as Record<string, unknown>,
      },
    };
  }

  private busName(named: string | undefined): string | undefined {
    if (named === undefined || named === '' || named === 'default') return 'default';
    if (named === this.name || named === this.arn) return this.name;
    // Any ARN ending in our name is accepted: the local account and region are nominal.
    if (named.startsWith('arn:') && named.endsWith(`:event-bus/${this.name}`)) return this.name;
    return undefined;
  }
}

function entryTime(time: PutEventsEntryInput['Time']): number | undefined {
  if (time === undefined || time === null) return nowMs();
  // The SDK serialises Time as epoch seconds; tolerate a Date or an ISO string from other callers.
  const ms =
    time instanceof Date ? time.getTime() : typeof time === 'number' ? time * 1000 : Date.parse(time);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Entry size as EventBridge counts it (UTF-8 bytes of the text fields, 14 for a time). */
function entrySize(entry: PutEventsEntryInput): number {
  if (typeof entry !== 'object' || entry === null) return 0;
  const bytes = (s: unknown) => (typeof s === 'string' ? Buffer.byteLength(s, 'utf8') : 0);
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (Array.isArray(entry.Resources) ? entry.Resources : []).reduce((n, r) => n + bytes(r), 0)
  );
}
