import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { buildClient, type ClientRepository, type NewClient } from '../shared/auth/clients.ts';
import { buildOperator, type OperatorRepository } from '../shared/auth/operators.ts';
import { systemClock } from '../shared/clock.ts';
import { type GrantType, grantTypes, opsScopes, type Scope, scopes } from '../shared/contracts/oauth.ts';

/** The kinds of OAuth client the local suite is seeded with (plus one operator, see below). */
export const devClientKinds = ['distributor', 'zuora', 'platform', 'ops'] as const;
export type DevClientKind = (typeof devClientKinds)[number];

export const devClientSchema = z.object({
  kind: z.enum(devClientKinds),
  tenant: z.string(),
  clientId: z.string(),
  clientSecret: z.string(),
  username: z.string().optional(),
  password: z.string().optional(),
  grantTypes: z.array(z.enum(grantTypes)),
  scopes: z.array(z.enum(scopes)),
});
/** One entry of `<dataDir>/dev-clients.json` (plaintext: local sandbox credentials only). */
export type DevClient = z.infer<typeof devClientSchema>;

interface DevClientSpec {
  kind: DevClientKind;
  tenant: string;
  clientId: string;
  name: string;
  grantTypes: GrantType[];
  scopes: Scope[];
  username?: string;
}

/** What each dev tenant may do (product.md §1): a distributor, the Zuora emitter, the platform. */
export const devClientSpecs: DevClientSpec[] = [
  {
    kind: 'distributor',
    tenant: 'arrow',
    clientId: 'dev-arrow',
    name: 'Arrow (dev distributor)',
    grantTypes: ['client_credentials'],
    scopes: ['orders:write', 'orders:read', 'webhooks:manage'],
  },
  {
    kind: 'zuora',
    tenant: 'zuora',
    clientId: 'dev-zuora',
    name: 'Zuora event emitter (dev)',
    grantTypes: ['password'],
    scopes: ['zuora:events'],
    username: 'zuora-emitter',
  },
  {
    kind: 'platform',
    tenant: 'platform',
    clientId: 'dev-platform',
    name: 'Vendor platform (dev)',
    grantTypes: ['client_credentials'],
    scopes: [
      'usage:write',
      'usage:read',
      'usage:admin',
      'webhooks:manage',
      'webhooks:publish',
      'webhooks:all-events',
      'orders:admin',
    ],
  },
  {
    // Scripts and outside checks of the operations API (`/v1/ops/…`); people sign in as operators.
    kind: 'ops',
    tenant: 'ops',
    clientId: 'dev-ops',
    name: 'Operations scripts (dev)',
    grantTypes: ['client_credentials'],
    scopes: [...opsScopes],
  },
];

/** The dev operator's entry in `dev-clients.json`: `{"kind": "operator", "username", "password"}`. */
export const devOperatorSchema = z.object({
  kind: z.literal('operator'),
  username: z.string(),
  password: z.string(),
});
export type DevOperator = z.infer<typeof devOperatorSchema>;
export const DEV_OPERATOR = 'dev-operator';

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

/**
 * Seeds the local dev clients once and returns them with their plaintext credentials. The secrets
 * are random on first start and kept in `<dataDir>/dev-clients.json` (mode 0600), so scripts and
 * tests can read them and they survive restarts; a client missing from the table (fresh dynamo
 * folder) or whose grants changed is written again with the secret the file already holds.
 */
export async function ensureDevClients(
  repo: Pick<ClientRepository, 'get' | 'put'>,
  dataDir: string,
): Promise<DevClient[]> {
  const file = join(dataDir, 'dev-clients.json');
  const entries = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Array<{ kind?: unknown }>)
    : [];
  const known = z.array(devClientSchema).parse(entries.filter((e) => e.kind !== 'operator'));
  const operatorEntry = entries.find((e) => e.kind === 'operator');
  const out: DevClient[] = [];
  for (const spec of devClientSpecs) {
    const previous = known.find((c) => c.kind === spec.kind && c.clientId === spec.clientId);
    const stored = previous ? await repo.get(spec.clientId) : undefined;
    if (
      previous &&
      stored &&
      sameSet(stored.scopes, spec.scopes) &&
      sameSet(stored.grantTypes, spec.grantTypes) &&
      stored.users?.[0]?.username === spec.username
    ) {
      out.push(previous);
      continue;
    }
    const input: NewClient = {
      tenant: spec.tenant,
      clientId: spec.clientId,
      name: spec.name,
      grantTypes: spec.grantTypes,
      scopes: spec.scopes,
      ...(spec.username ? { username: spec.username } : {}),
      ...(previous ? { clientSecret: previous.clientSecret } : {}),
      ...(previous?.password ? { password: previous.password } : {}),
    };
    const created = await buildClient(input, systemClock.now());
    await repo.put(created.client);
    out.push({
      kind: spec.kind,
      tenant: spec.tenant,
      clientId: spec.clientId,
      clientSecret: created.clientSecret,
      ...(spec.username && created.password ? { username: spec.username, password: created.password } : {}),
      grantTypes: spec.grantTypes,
      scopes: spec.scopes,
    });
  }
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify([...out, ...(operatorEntry ? [operatorEntry] : [])], null, 2)}\n`, {
    mode: 0o600,
  });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return out;
}

/**
 * Seeds the dev operator once (a random password, kept in `dev-clients.json` so it survives
 * restarts) and returns it. Written again with the same password when the table lost it.
 */
export async function ensureDevOperator(
  repo: Pick<OperatorRepository, 'get' | 'put'>,
  dataDir: string,
): Promise<DevOperator> {
  const file = join(dataDir, 'dev-clients.json');
  const entries = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Array<{ kind?: unknown }>)
    : [];
  const previous = entries.find((e) => e.kind === 'operator');
  const known = previous ? devOperatorSchema.parse(previous) : undefined;
  const stored = known ? await repo.get(known.username) : undefined;
  if (known && stored?.status === 'enabled') return known;
  const built = await buildOperator(
    { username: DEV_OPERATOR, name: 'Dev operator', ...(known ? { password: known.password } : {}) },
    systemClock.now(),
  );
  await repo.put(built.operator);
  const entry: DevOperator = { kind: 'operator', username: DEV_OPERATOR, password: built.password };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    `${JSON.stringify([...entries.filter((e) => e.kind !== 'operator'), entry], null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return entry;
}

/**
 * Keeps `<dataDir>/dev-clients.json` in step after `npm run clients -- rotate` on a dev client, so the
 * banner, `send` and `clients token` use the live secret. A client not in the file is left alone.
 * Returns whether the file changed.
 */
export function updateDevClientFile(
  dataDir: string,
  clientId: string,
  change: { clientSecret?: string; username?: string; password?: string },
): boolean {
  const file = join(dataDir, 'dev-clients.json');
  if (!existsSync(file)) return false;
  const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
  const entry = entries.find((e) => e.kind !== 'operator' && e.clientId === clientId);
  if (!entry) return false;
  if (change.clientSecret) entry.clientSecret = change.clientSecret;
  if (change.password && (!change.username || entry.username === change.username))
    entry.password = change.password;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return true;
}
