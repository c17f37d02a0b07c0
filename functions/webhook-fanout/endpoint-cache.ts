import type { Clock } from '../../shared/clock.ts';
import { coalescer } from '../../shared/db/batching.ts';
import type {
  WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';

/**
 * Hard limit on how long fan-out trusts its copy of a listing even when the version says nothing
 * changed (covers a crash between an endpoint write and its version bump).
 */
export const ENDPOINT_CACHE_MAX_AGE_MS = 60_000;

type Source = Pick<WebhookEndpointRepository, 'listAll' | 'listAllEvents' | 'versions'>;
type Listings = Pick<WebhookEndpointRepository, 'listAll' | 'listAllEvents'>;

interface Entry {
  at: number;
  version: number;
  value: Promise<WebhookEndpoint[]>;
}

/**
 * The endpoint listings fan-out reads per event (the tenant's endpoints and the all-events
 * partition), cached in the Lambda container and checked against the endpoints version items
 * (bumped after every create, update — enable/disable, rotate — and delete): per event, ONE small
 * consistent BatchGetItem (two tiny items, shared by the events of one batch in the same tick)
 * instead of two queries returning every endpoint. A change is honoured by the next event published
 * after it; a listing is reloaded at the latest after `ENDPOINT_CACHE_MAX_AGE_MS`.
 */
export function cachedEndpointListings(
  source: Source,
  clock: Clock,
  maxAgeMs = ENDPOINT_CACHE_MAX_AGE_MS,
): Listings & { clear(): void } {
  const entries = new Map<string, Entry>();
  // Events of one batch asking in the same tick share one read of the versions ('' = all-events).
  const versions = coalescer<string, number>({
    max: 99,
    run: async (asks) => {
      const v = await source.versions(asks.filter((t) => t !== ''));
      return asks.map((t) => (t === '' ? v.allEvents : (v.tenants.get(t) ?? -1)));
    },
  });
  const read = async (
    key: string,
    version: number,
    load: () => Promise<WebhookEndpoint[]>,
  ): Promise<WebhookEndpoint[]> => {
    const now = clock.now().getTime();
    const hit = entries.get(key);
    if (hit && version >= 0 && hit.version === version && now >= hit.at && now - hit.at < maxAgeMs) {
      return hit.value;
    }
    const value = load();
    entries.set(key, { at: now, version, value });
    // A failed read is not cached.
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    if (entries.size > 10_000) entries.delete(entries.keys().next().value!);
    return value;
  };
  return {
    async listAll(tenant) {
      return read(`tenant|${tenant}`, await versions(tenant), () => source.listAll(tenant));
    },
    async listAllEvents() {
      // Asked in the same tick as the tenant's: both versions come from one BatchGetItem.
      return read('all-events', await versions(''), () => source.listAllEvents());
    },
    clear: () => entries.clear(),
  };
}
