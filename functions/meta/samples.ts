import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouteSpec, Wiring } from '../../infra/wiring-types.ts';
import { routeKey } from '../../infra/wiring-types.ts';

/** A request body sample of `events/api/<folder>/<name>.json`. */
export interface ApiSample {
  name: string;
  value: unknown;
}

/** What `{{localUrl}}` in a sample means: the local runtime resolves it to its own URL on the way in. */
export const LOCAL_URL_PLACEHOLDER = '{{localUrl}}';

/**
 * The `events/api/` folder holding a route's request samples: the route's own `samples`, else (POST
 * routes) its path without the version prefix and parameters, `/` → `-` — the rule `npm run send` uses.
 */
export function sampleFolder(route: RouteSpec): string | undefined {
  if (route.samples !== undefined) return route.samples;
  if (route.method !== 'POST') return undefined;
  return route.path
    .replace(/^\/(v1|api)\//, '')
    .replace(/\{[^}]+\}/g, '')
    .replace(/\/+$/, '')
    .replace(/\//g, '-');
}

/**
 * Every route's request samples, by route key (`*.apigw.json` events are not bodies). `localUrl`
 * replaces `{{localUrl}}`; without it the placeholder stays (right for the local runtime, which
 * resolves it). Read at build time or by the local runtime only: `events/` is not in any bundle.
 */
export function readApiSamples(root: string, wiring: Wiring, localUrl?: string): Record<string, ApiSample[]> {
  const out: Record<string, ApiSample[]> = {};
  for (const route of wiring.routes) {
    const folder = sampleFolder(route);
    const dir = folder && join(root, 'events/api', folder);
    if (!dir || !existsSync(dir)) continue;
    out[routeKey(route)] = readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !f.endsWith('.apigw.json'))
      .sort()
      .map((f) => {
        const text = readFileSync(join(dir, f), 'utf8');
        return {
          name: f.slice(0, -'.json'.length),
          value: JSON.parse(localUrl ? text.replaceAll(LOCAL_URL_PLACEHOLDER, localUrl) : text),
        };
      });
  }
  return out;
}
