import type { z } from 'zod';
import { orderEvents } from './orders.ts';
import { usageEvents } from './usage.ts';
import { webhookEvents } from './webhooks.ts';
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
  ...zuoraEvents,
  ...usageEvents,
  ...webhookEvents,
};

export const EVENT_SOURCE = 'switchboard';

export const publicEventTypes = (): string[] =>
  Object.entries(eventCatalog)
    .filter(([, d]) => d.public)
    .map(([t]) => t)
    .sort();
