import type { EventDefinition } from './index.ts';

/** zuora events; the zuora capability adds its detail types here. */
export const zuoraEvents: Record<string, EventDefinition> = {};
