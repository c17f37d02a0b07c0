import type { WiringPart } from '../wiring-types.ts';

/** usage part of the manifest (owned by the usage capability). */
export const usageWiring: WiringPart = {};
