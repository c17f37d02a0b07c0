import type { EventDefinition } from './index.ts';

/** orders events; the orders capability adds its detail types here. */
export const orderEvents: Record<string, EventDefinition> = {};
