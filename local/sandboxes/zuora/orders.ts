import type { ZuoraSandbox } from './index.ts';

/**
 * Zuora orders API of the sandbox (filled in by the orders capability). Guard every route with
 * `requireZuoraToken` from ./index.ts and answer with Zuora's shapes from ../shared/reference/data/zuora/.
 */
export function registerZuoraOrderRoutes(_sandbox: ZuoraSandbox): void {}
