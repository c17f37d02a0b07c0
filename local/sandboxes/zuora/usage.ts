import type { ZuoraSandbox } from './index.ts';

/**
 * Zuora usage API of the sandbox (filled in by the usage capability). Guard every route with
 * `requireZuoraToken` from ./index.ts and answer with Zuora's shapes from ../shared/reference/data/zuora/.
 */
export function registerZuoraUsageRoutes(_sandbox: ZuoraSandbox): void {}
