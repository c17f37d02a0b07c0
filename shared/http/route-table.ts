import { wiring } from '../../infra/wiring.ts';
import type { RouteAuth } from '../../infra/wiring-types.ts';

/**
 * The routes a function serves, with their auth facts (method, path, `auth`, scopes), read from the
 * manifest. This is the source (local runtime, tests) form: in a Lambda bundle this module is
 * replaced at build time by a literal table of that one function's routes (`routeTableModule` in
 * `infra/bundle/build-time-modules.ts`), so no bundle carries the manifest, the schemas it
 * references or anything else it imports.
 */
export function routeTable(functionName: string): RouteAuth[] {
  return wiring.routes
    .filter((route) => route.function === functionName)
    .map(({ method, path, auth, scopes }) => ({ method, path, auth, scopes: [...scopes] }));
}
