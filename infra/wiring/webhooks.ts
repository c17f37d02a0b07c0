import type { WiringPart } from '../wiring-types.ts';

/** webhooks part of the manifest (owned by the webhooks capability). */
export const webhooksWiring: WiringPart = {};
