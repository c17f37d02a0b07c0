import type { WiringPart } from '../wiring-types.ts';

/** orders part of the manifest (owned by the orders capability). */
export const ordersWiring: WiringPart = {};
