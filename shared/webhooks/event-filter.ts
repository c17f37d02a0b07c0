import * as z from 'zod';

/**
 * Event type filters of a webhook endpoint: an exact type (`order.accepted`), a trailing wildcard
 * (`order.*` matches `order.accepted` and `order.billing.provisioned`), or `*` for every type.
 */
export const eventTypeFilterSchema = z
  .string()
  .max(128)
  .regex(
    /^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$/,
    'must be an event type, a prefix ending in .* (order.*), or *',
  );

/** True when `type` is selected by `filter`. */
export function matchesFilter(filter: string, type: string): boolean {
  if (filter === '*') return true;
  if (filter.endsWith('.*')) return type.startsWith(filter.slice(0, -1));
  return filter === type;
}

/** True when any of the filters selects `type`. */
export function matchesAny(filters: readonly string[], type: string): boolean {
  return filters.some((f) => matchesFilter(f, type));
}
