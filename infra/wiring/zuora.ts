import type { WiringPart } from '../wiring-types.ts';

/** zuora part of the manifest (owned by the zuora capability). */
export const zuoraWiring: WiringPart = {};
