import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { TransientError } from '../errors.ts';
import { awsClient } from '../telemetry.ts';
import { EVENT_SOURCE, type EventDefinition, eventDefinition } from './catalog/index.ts';

export interface HubEvent {
  /** Dotted past-tense detail type from the catalog, e.g. `order.accepted`. */
  type: string;
  detail: Record<string, unknown> & { tenant: string };
  /** Optional resources (ARNs or ids) for the envelope. */
  resources?: string[];
}

export interface Publisher {
  publish(events: HubEvent[]): Promise<void>;
}

export class UnknownEventTypeError extends Error {}

const MAX_ENTRIES = 10; // PutEvents limit per call
const MAX_ATTEMPTS = 4;

/**
 * Validates each event against the catalog (an unknown type or a bad detail is a programming error
 * and throws), sends them in batches of ten, and re-sends only the entries EventBridge reports as
 * failed (`FailedEntryCount`), with jittered backoff. Still failing after that → TransientError, so
 * the caller's queue retries and nothing is silently dropped.
 */
export function createPublisher(options: {
  busName: string;
  client?: Pick<EventBridgeClient, 'send'>;
  /** Defaults to the hub catalog (`eventDefinition`); tests pass their own lookup. */
  definitionOf?: (type: string) => EventDefinition | undefined;
  sleep?: (ms: number) => Promise<void>;
}): Publisher {
  const client = options.client ?? awsClient(EventBridgeClient, { maxAttempts: 3 });
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  return {
    async publish(events) {
      const entries: PutEventsRequestEntry[] = events.map((event) => {
        const definition = (options.definitionOf ?? eventDefinition)(event.type);
        if (!definition) throw new UnknownEventTypeError(`event type ${event.type} is not in the catalog`);
        const parsed = definition.schema.safeParse(event.detail);
        if (!parsed.success) {
          throw new UnknownEventTypeError(
            `detail of ${event.type} does not match its schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
        }
        return {
          EventBusName: options.busName,
          Source: EVENT_SOURCE,
          DetailType: event.type,
          Detail: JSON.stringify(parsed.data),
          ...(event.resources ? { Resources: event.resources } : {}),
        };
      });
      for (let i = 0; i < entries.length; i += MAX_ENTRIES) {
        let pending = entries.slice(i, i + MAX_ENTRIES);
        for (let attempt = 1; pending.length > 0; attempt++) {
          const result = await client.send(new PutEventsCommand({ Entries: pending }));
          if (!result.FailedEntryCount) break;
          const failed = pending.filter((_, idx) => result.Entries?.[idx]?.ErrorCode);
          if (attempt >= MAX_ATTEMPTS) {
            const codes = [...new Set(result.Entries?.map((e) => e.ErrorCode).filter(Boolean))].join(', ');
            throw new TransientError(
              `PutEvents failed for ${failed.length} entries after ${attempt} attempts (${codes})`,
            );
          }
          pending = failed;
          await sleep(2 ** attempt * 50 * (0.5 + Math.random()));
        }
      }
    },
  };
}

let shared: Publisher | undefined;
/** One publisher per execution environment for the bus named by `EVENT_BUS_NAME`. */
export function publisherFromEnv(): Publisher {
  const busName = process.env.EVENT_BUS_NAME;
  if (!busName) throw new Error('EVENT_BUS_NAME is not set: grant the function the bus in infra/wiring.ts');
  shared ??= createPublisher({ busName });
  return shared;
}
