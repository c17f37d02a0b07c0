import type { EventDefinition } from './index.ts';

/** webhooks events; the webhooks capability adds its detail types here. */
export const webhookEvents: Record<string, EventDefinition> = {};
