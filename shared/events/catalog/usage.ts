import type { EventDefinition } from './index.ts';

/** usage events; the usage capability adds its detail types here. */
export const usageEvents: Record<string, EventDefinition> = {};
