import { createHash } from 'node:crypto';
import type { Clock } from '../../shared/clock.ts';
import {
  type CustomEventRepository,
  IDEMPOTENCY_TTL_SECONDS,
} from '../../shared/db/entities/webhook-custom-events.ts';
import { ConflictError, PayloadTooLargeError, ValidationError } from '../../shared/errors.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { MAX_CUSTOM_DATA_BYTES, type PublishEventInput } from './schema.ts';

export interface PublishDeps {
  publisher: Publisher;
  ids: IdGenerator;
  clock: Clock;
  customEvents: Pick<CustomEventRepository, 'claim'>;
}

const IDEMPOTENCY_KEY = /^[\w.:-]{1,128}$/;
/** Deepest nesting of objects and arrays in custom `data` (JSON.stringify recurses: deeper bodies overflow it). */
export const MAX_CUSTOM_DATA_DEPTH = 32;

/** True when `value` nests deeper than `limit`; stops descending at the limit, so it cannot overflow. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (limit === 0) return true;
  return Object.values(value).some((v) => nestedDeeperThan(v, limit - 1));
}

/**
 * Publishes a tenant's custom event on the bus; the fan-out rule dispatches it like any public event.
 * The type is under `custom.` (checked by the schema), so it cannot pass for a hub event. With an
 * `Idempotency-Key`, a retried request publishes the same event again (same id and time, so fan-out
 * creates no second delivery) and the same key with a different body is a 409.
 */
export async function publishCustomEvent(
  input: PublishEventInput,
  caller: { tenant: string; idempotencyKey?: string | undefined },
  deps: PublishDeps,
) {
  if (nestedDeeperThan(input.data, MAX_CUSTOM_DATA_DEPTH)) {
    throw new ValidationError(
      `data nests objects and arrays more than ${MAX_CUSTOM_DATA_DEPTH} levels deep.`,
      [{ field: 'data', message: `nested more than ${MAX_CUSTOM_DATA_DEPTH} levels` }],
      'DATA_TOO_DEEP',
    );
  }
  const serialised = JSON.stringify(input.data);
  const bytes = Buffer.byteLength(serialised);
  if (bytes > MAX_CUSTOM_DATA_BYTES) {
    throw new PayloadTooLargeError(
      `data is ${bytes} bytes; custom events carry at most ${MAX_CUSTOM_DATA_BYTES}.`,
    );
  }
  const now = deps.clock.now();
  let eventId = deps.ids.next('evt');
  let occurredAt = now.toISOString();
  if (caller.idempotencyKey !== undefined) {
    if (!IDEMPOTENCY_KEY.test(caller.idempotencyKey)) {
      throw new ValidationError(
        'The Idempotency-Key header must be 1 to 128 letters, digits, or . _ : -',
        [{ field: 'idempotency-key', message: 'invalid' }],
        'INVALID_IDEMPOTENCY_KEY',
      );
    }
    const requestHash = createHash('sha256').update(`${input.type}\n${serialised}`).digest('hex');
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const standing = await deps.customEvents.claim(
      {
        tenant: caller.tenant,
        idempotencyKey: caller.idempotencyKey,
        eventId,
        type: input.type,
        occurredAt,
        requestHash,
        expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
      },
      nowSeconds,
    );
    if (standing.requestHash !== requestHash) {
      throw new ConflictError(
        'This Idempotency-Key was already used with a different event.',
        'IDEMPOTENCY_KEY_REUSED',
      );
    }
    eventId = standing.eventId;
    occurredAt = standing.occurredAt;
  }
  await deps.publisher.publish([
    { type: input.type, detail: { tenant: caller.tenant, eventId, occurredAt, data: input.data } },
  ]);
  return { eventId, type: input.type, occurredAt };
}
