import { PayloadTooLargeError } from '../../shared/errors.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { MAX_CUSTOM_DATA_BYTES, type PublishEventInput } from './schema.ts';

export interface PublishDeps {
  publisher: Publisher;
  ids: IdGenerator;
}

/**
 * Publishes a tenant's custom event on the bus; the fan-out rule dispatches it like any public event.
 * The type is under `custom.` (checked by the schema), so it cannot pass for a hub event.
 */
export async function publishCustomEvent(input: PublishEventInput, tenant: string, deps: PublishDeps) {
  const bytes = Buffer.byteLength(JSON.stringify(input.data));
  if (bytes > MAX_CUSTOM_DATA_BYTES) {
    throw new PayloadTooLargeError(
      `data is ${bytes} bytes; custom events carry at most ${MAX_CUSTOM_DATA_BYTES}.`,
    );
  }
  const eventId = deps.ids.next('evt');
  await deps.publisher.publish([{ type: input.type, detail: { tenant, eventId, data: input.data } }]);
  return { eventId, type: input.type };
}
