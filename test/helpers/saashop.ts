import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localDynamoClient } from '../../local/dynamo.ts';
import type { SandboxRecord } from '../../local/sandboxes/kit.ts';
import { buildClient, ClientRepository } from '../../shared/auth/clients.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { type Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';

/** What SaaShop end-to-end tests and the benchmark share: publishing, polling, and reading the outcome. */
export async function publishSaashopOrder(
  url: string,
  body: Record<string, unknown> = {},
): Promise<{ orderId: string; eventId: string }> {
  const res = await fetch(`${url}/_sandbox/saashop/_orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201)
    throw new Error(`POST /_sandbox/saashop/_orders answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { orderId: string; eventId: string };
}

/** `POST /_local/schedules/saashop-poller`: one poll now (the HTTP status of the control). */
export async function pollNow(url: string): Promise<number> {
  const res = await fetch(`${url}/_local/schedules/saashop-poller`, { method: 'POST' });
  await res.text();
  return res.status;
}

/** Every status the hub posted back per SaaShop order id, in order. */
export function postedStatuses(records: SandboxRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of records) {
    if (r.kind !== 'marketplaceEvent.posted') continue;
    const key = String(r.orderId);
    out.set(key, [...(out.get(key) ?? []), String(r.statusCode)]);
  }
  return out;
}

/**
 * Direct table access to a running suite (its `runtime.json`): the SaaShop event records, the
 * orders, and a client of the `saashop` tenant to read the order views like any channel would.
 */
export function suiteTable(dataDir: string) {
  const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as {
    dynamoEndpoint: string;
    tableName: string;
  };
  const low = localDynamoClient(info.dynamoEndpoint);
  const doc = createDocumentClient(low);
  return {
    events: new SaashopEventRepository(doc, info.tableName),
    orders: new OrderRepository(doc, info.tableName),
    clients: new ClientRepository(doc, info.tableName),
    async allOrders(tenant: string): Promise<Order[]> {
      const out: Order[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.orders.listByTenant(tenant, { limit: 100, ...(cursor ? { cursor } : {}) });
        out.push(...page.orders);
        cursor = page.cursor;
      } while (cursor);
      return out;
    },
    close: () => low.destroy(),
  };
}

/** Registers a `saashop`-tenant client (orders:read) and returns a function that gets its tokens. */
export async function saashopReader(url: string, clients: ClientRepository): Promise<() => Promise<string>> {
  const created = await buildClient(
    {
      tenant: 'saashop',
      name: 'SaaShop orders (e2e)',
      grantTypes: ['client_credentials'],
      scopes: ['orders:read'],
    },
    new Date(),
  );
  await clients.put(created.client);
  return async () => {
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${created.client.clientId}:${created.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    const body = (await res.json()) as { access_token: string };
    return body.access_token;
  };
}
