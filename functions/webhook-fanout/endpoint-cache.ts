import type { Clock } from '../../shared/clock.ts';
import type {
  WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';

/**
 * How long fan-out trusts its copy of a tenant's endpoints and of the all-events partition. A
 * change (create, update, enable/disable, rotate, delete) is honoured by fan-out within this time;
 * a disabled-looking endpoint is re-read before its delivery is recorded as skipped, so re-enabling
 * is honoured at once.
 */
export const ENDPOINT_CACHE_TTL_MS = 5_000;

type Listings = Pick<WebhookEndpointRepository, 'listAll' | 'listAllEvents'>;

/**
 * A short in-memory TTL cache of the endpoint listings fan-out reads per event, kept for the life
 * of the Lambda container: a burst of events of one tenant costs one query per listing per TTL
 * instead of two per event. Concurrent misses share one query (the repository's single flight).
 */
export function cachedEndpointListings(
  inner: Listings,
  clock: Clock,
  ttlMs = ENDPOINT_CACHE_TTL_MS,
): Listings & { clear(): void } {
  const entries = new Map<string, { at: number; value: Promise<WebhookEndpoint[]> }>();
  const read = (key: string, load: () => Promise<WebhookEndpoint[]>) => {
    const now = clock.now().getTime();
    const hit = entries.get(key);
    // A clock moved backwards (never in AWS) also counts as expired.
    if (hit && now - hit.at < ttlMs && now >= hit.at) return hit.value;
    const value = load();
    entries.set(key, { at: now, value });
    // A failed read is not cached.
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    if (entries.size > 10_000) entries.delete(entries.keys().next().value!);
    return value;
  };
  return {
    listAll: (tenant) => read(`tenant|${tenant}`, () => inner.listAll(tenant)),
    listAllEvents: () => read('all-events', () => inner.listAllEvents()),
    clear: () => entries.clear(),
  };
}
