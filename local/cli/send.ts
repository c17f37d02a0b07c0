import '../quiet-warnings.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { tokenSource } from '@switchboard/client';
import { wiring } from '../../infra/wiring.ts';
import type { RouteSpec } from '../../infra/wiring-types.ts';
import { dataDir, readDevClients, runningRuntime } from './common.ts';
import { parseCli, runCli, usage } from './kit.ts';

const NAME = 'npm run send --';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const BODYLESS = new Set(['GET', 'DELETE']);

const USAGE = `Usage: npm run send -- <events/api/<route>/<case>.json> [options]
       npm run send -- --method GET --path /v1/orders/<id> [options]

Gets a token for a dev client allowed to call the route and sends the sample to the running local
suite (npm start). The route comes from the sample's folder: orders → POST /v1/orders, zuora-events →
POST /v1/zuora/events, webhooks-endpoints → POST /v1/webhooks/endpoints (slashes after /v1/ written
as dashes).

Options:
  --as <kind|tenant>       dev client to call as (default: the first holding the route's scopes)
  --method <M>             ${METHODS.join(', ')} (default POST; GET and DELETE send no body)
  --path <P>               route path, instead of the one derived from the folder
  --header <k:v>           extra header, repeatable (or comma-separated)
  --content-type <T>       default application/json (cloudevents samples: application/cloudevents-batch+json)
  -h, --help               this text

Exit: 0 on a 2xx answer, 1 on another answer or a failure, 2 on a bad argument.`;

const { values, positionals } = parseCli({
  name: NAME,
  usage: USAGE,
  allowPositionals: true,
  options: {
    as: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    header: { type: 'string', multiple: true },
    'content-type': { type: 'string' },
  },
});

const slug = (r: RouteSpec) =>
  r.path
    .replace(/^\/(v1|api)\//, '')
    .replace(/\{[^}]+\}/g, '')
    .replace(/\/+$/, '')
    .replace(/\//g, '-');

runCli(NAME, async () => {
  if (positionals.length > 1) usage(`one sample file expected, got ${positionals.length}`);
  const method = (values.method ?? 'POST').toUpperCase();
  if (!(METHODS as readonly string[]).includes(method))
    usage(`--method ${values.method} is not one of ${METHODS.join(', ')}`);
  const file = positionals[0];
  if (!file && !BODYLESS.has(method)) usage('a sample file is required (events/api/<route>/<case>.json)');
  if (!file && !values.path) usage('--path is required without a sample file');
  if (file && (!existsSync(file) || !statSync(file).isFile())) usage(`no file ${file}`);
  if (values.path && !values.path.startsWith('/')) usage(`--path ${values.path} must start with /`);

  let route: Pick<RouteSpec, 'method' | 'path' | 'scopes' | 'auth'>;
  if (values.path) {
    const template = wiring.routes.find(
      (r) =>
        r.method === method && new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(values.path!),
    );
    route = {
      method: method as RouteSpec['method'],
      path: values.path,
      scopes: template?.scopes ?? [],
      auth: template?.auth ?? 'jwt',
    };
  } else {
    const folder = basename(dirname(file!));
    const found = wiring.routes.find((r) => r.method === 'POST' && slug(r) === folder);
    if (!found)
      usage(
        `no POST route for folder ${folder}; pass --path /v1/... (folders: ${[...new Set(wiring.routes.filter((r) => r.method === 'POST').map(slug))].join(', ')})`,
      );
    route = { ...found, method: method as RouteSpec['method'] };
  }

  const headers: Record<string, string> = {};
  for (const h of (values.header ?? []).flatMap((x) => x.split(',')).filter(Boolean)) {
    const [k, v] = h.split(/:(.*)/s);
    if (!k?.trim() || v === undefined) usage(`--header ${h} is not name:value`);
    headers[k.trim().toLowerCase()] = v.trim();
  }
  const body = file && !BODYLESS.has(method) ? readFileSync(file, 'utf8') : undefined;

  const runtime = runningRuntime();
  if (!runtime) throw new Error(`no local suite is running on ${dataDir()}: start it with npm start`);
  const clients = readDevClients();
  const client = values.as
    ? clients.find((c) => c.kind === values.as || c.tenant === values.as)
    : clients.find((c) => route.scopes.every((s) => c.scopes.includes(s)));
  if (!client)
    usage(
      values.as
        ? `no dev client ${values.as} (kinds: ${[...new Set(clients.map((c) => c.kind))].join(', ')})`
        : `no dev client holds ${route.scopes.join(' ')}`,
    );

  if (body !== undefined)
    headers['content-type'] ??=
      values['content-type'] ??
      (file!.includes('cloudevents') ? 'application/cloudevents-batch+json' : 'application/json');
  headers['x-client-id'] = client.clientId;
  if (route.auth === 'jwt') {
    // The typed client's token helper, as an integrator would use it (client credentials or password).
    const tokens = tokenSource({
      baseUrl: runtime.url,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      grant: client.grantTypes.includes('client_credentials')
        ? { type: 'client_credentials' }
        : { type: 'password', username: client.username ?? '', password: client.password ?? '' },
    });
    headers.authorization = `Bearer ${await tokens.token()}`;
  }

  const res = await fetch(`${runtime.url}${route.path}`, { method: route.method, headers, body });
  const text = await res.text();
  process.stdout.write(
    `${route.method} ${route.path} as ${client.kind} (${client.tenant}) → ${res.status}\n`,
  );
  try {
    process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  } catch {
    process.stdout.write(`${text}\n`);
  }
  return res.ok ? 0 : 1;
});
