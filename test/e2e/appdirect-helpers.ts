import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localDynamoClient } from '../../local/dynamo.ts';
import type { SandboxRecord } from '../../local/sandboxes/kit.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { AppDirectAccountStore } from '../../shared/db/entities/appdirect-accounts.ts';
import { type Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { api, type startTestRuntime } from '../helpers/runtime.ts';

/** What the AppDirect end-to-end tests share: emitting through the sandbox marketplace, reading the hub. */
export type Rt = Awaited<ReturnType<typeof startTestRuntime>>;

export interface Emitted {
  eventId: string;
  status: number;
  answer: any;
}

export function appDirectHarness(rt: Rt) {
  const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
    dynamoEndpoint: string;
    tableName: string;
  };
  const low = localDynamoClient(info.dynamoEndpoint);
  const doc = createDocumentClient(low);
  const orders = new OrderRepository(doc, info.tableName);
  const accounts = new AppDirectAccountStore(doc, info.tableName);
  const registry = new SubscriptionRegistry(doc, info.tableName);
  const records = (kind?: string) =>
    (rt.sandbox('appdirect').records as SandboxRecord[]).filter((r) => !kind || r.kind === kind);
  const zuoraState = () =>
    (rt.sandbox('zuora').state as { orders?: { subscriptions: Record<string, any> } }).orders
      ?.subscriptions ?? {};
  return {
    close: () => low.destroy(),
    orders,
    accounts,
    registry,
    records,
    zuoraState,
    async emit(fixture: string, payload?: unknown): Promise<Emitted> {
      const res = await api(rt, 'POST', '/_sandbox/appdirect/_emit', {
        body: { fixture, ...(payload !== undefined ? { payload } : {}) },
      });
      if (res.status !== 200) throw new Error(`emit ${fixture}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as Emitted;
    },
    async renotify(eventId: string): Promise<Emitted> {
      const res = await api(rt, 'POST', `/_sandbox/appdirect/_events/${eventId}/_notify`);
      return res.body as Emitted;
    },
    results: (eventId: string) => records('event.result').filter((r) => r.eventId === eventId),
    async orderOfEvent(eventId: string): Promise<Order | undefined> {
      let cursor: string | undefined;
      do {
        const page = await orders.listByTenant('appdirect', { limit: 100, ...(cursor ? { cursor } : {}) });
        const found = page.orders.find((o) => o.channelRef?.eventId === eventId);
        if (found) return found;
        cursor = page.cursor;
      } while (cursor);
      return undefined;
    },
    /** Drains the queues and moves the clock past retry backoffs until `done()` or the rounds run out. */
    async settle(done: () => Promise<boolean> | boolean, rounds = 25): Promise<boolean> {
      for (let i = 0; i < rounds; i++) {
        await rt.drain(120_000);
        if (await done()) return true;
        await rt.advanceClock(200);
      }
      return done();
    },
  };
}
