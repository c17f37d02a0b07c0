import '../quiet-warnings.ts';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { wiring } from '../../infra/wiring.ts';
import type { RouteSpec } from '../../infra/wiring-types.ts';
import { dataDir, fail, fetchDevToken, parseArgs, readDevClients, runningRuntime } from './common.ts';

/**
 * `npm run send -- events/api/<route>/<case>.json [--as distributor|zuora|platform] [--method M --path P]
 * [--header k:v] [--content-type T]`: gets a token for a dev client allowed to call the route and sends
 * the sample to the running local suite. The route comes from the sample's folder: `orders` →
 * `POST /v1/orders`, `zuora-events` → `POST /v1/zuora/events`, `webhooks-endpoints` →
 * `POST /v1/webhooks/endpoints` (slashes after `/v1/` written as dashes).
 */
const { positional, flags } = parseArgs(process.argv.slice(2));
const file =
  positional[0] ?? fail('usage: npm run send -- <events/api/<route>/<case>.json> [--as <client kind>]');
const runtime =
  runningRuntime() ?? fail(`no local suite is running on ${dataDir()}: start it with npm start`);
const body = readFileSync(file, 'utf8');

const folder = basename(dirname(file));
const slug = (r: RouteSpec) =>
  r.path
    .replace(/^\/(v1|api)\//, '')
    .replace(/\{[^}]+\}/g, '')
    .replace(/\/+$/, '')
    .replace(/\//g, '-');
const route: Pick<RouteSpec, 'method' | 'path' | 'scopes' | 'auth'> = flags.path
  ? (wiring.routes.find((r) => r.path === flags.path && r.method === (flags.method ?? 'POST')) ?? {
      method: (flags.method ?? 'POST') as RouteSpec['method'],
      path: flags.path,
      scopes: [],
      auth: 'jwt',
    })
  : (wiring.routes.find((r) => r.method === 'POST' && slug(r) === folder) ??
    fail(
      `no POST route for folder ${folder}; pass --path /v1/... (routes: ${wiring.routes.map((r) => slug(r)).join(', ')})`,
    ));

const clients = readDevClients();
const client = flags.as
  ? (clients.find((c) => c.kind === flags.as || c.tenant === flags.as) ?? fail(`no dev client ${flags.as}`))
  : (clients.find((c) => route.scopes.every((s) => c.scopes.includes(s))) ??
    fail(`no dev client holds ${route.scopes.join(' ')}`));

const headers: Record<string, string> = {
  'content-type':
    flags['content-type'] ??
    (file.includes('cloudevents') ? 'application/cloudevents-batch+json' : 'application/json'),
  'x-client-id': client.clientId,
};
for (const h of (flags.header ?? '').split(',').filter(Boolean)) {
  const [k, v] = h.split(/:(.*)/s);
  if (k && v !== undefined) headers[k.trim().toLowerCase()] = v.trim();
}
if (route.auth === 'jwt') headers.authorization = `Bearer ${await fetchDevToken(runtime.url, client)}`;

const res = await fetch(`${runtime.url}${route.path}`, { method: route.method, headers, body });
const text = await res.text();
process.stdout.write(`${route.method} ${route.path} as ${client.kind} (${client.tenant}) → ${res.status}\n`);
try {
  process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
} catch {
  process.stdout.write(`${text}\n`);
}
process.exit(res.ok ? 0 : 1);
