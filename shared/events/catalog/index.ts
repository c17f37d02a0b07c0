import type * as z from 'zod';
import { appDirectEvents } from './appdirect.ts';
import { orderEvents } from './orders.ts';
import { saashopEvents } from './saashop.ts';
import { usageEvents } from './usage.ts';
import { webhookEventFamilies, webhookEvents } from './webhooks.ts';
import { zuoraEvents } from './zuora.ts';

/**
 * Every event the hub publishes on its bus: detail type → zod schema of `detail`. Each area owns a
 * file. `public: true` events are fanned out to webhook subscribers; every detail carries the
 * `tenant` it belongs to, which decides who may receive it.
 */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  schema: S;
  public: boolean;
  description: string;
}

export const eventCatalog: Record<string, EventDefinition> = {
  ...orderEvents,
  ...saashopEvents,
  ...zuoraEvents,
  ...usageEvents,
  ...webhookEvents,
  ...appDirectEvents,
};

export const EVENT_SOURCE = 'switchboard';

export const publicEventTypes = (): string[] =>
  Object.entries(eventCatalog)
    .filter(([, d]) => d.public)
    .map(([t]) => t)
    .sort();

/**
 * Families of event types valid by prefix (e.g. `custom.` for partner-published events), for types
 * that cannot be listed one by one. A listed type always wins over a family.
 */
export const eventFamilies: Record<string, EventDefinition> = {
  ...webhookEventFamilies,
};

/** The definition of a detail type: listed in the catalog, or member of a family; else undefined. */
export function eventDefinition(type: string): EventDefinition | undefined {
  const listed = eventCatalog[type];
  if (listed) return listed;
  for (const [prefix, definition] of Object.entries(eventFamilies)) {
    if (type.startsWith(prefix) && type.length > prefix.length) return definition;
  }
  return undefined;
}

/** Prefixes of the public families, for rule patterns (`{prefix: 'custom.'}`). */
export const publicEventPrefixes = (): string[] =>
  Object.entries(eventFamilies)
    .filter(([, d]) => d.public)
    .map(([p]) => p)
    .sort();
