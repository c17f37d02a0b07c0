import { toScaled } from '../../shared/usage/quantity.ts';
import type { SuiteClient } from './client.ts';

/**
 * The soak's traffic besides orders, each kind a small state machine that remembers what the suite
 * acknowledged, so the invariants can be checked against it after the drain:
 * - Zuora events: per subscription a chain client → workspace → subscription → capacity upgrades
 *   (each +1 Giga), sent like Zuora's emitter (password grant, X-Client-Id, Zuora-Notification-Id),
 *   retried until acknowledged, and already acknowledged ones re-sent now and then (same or new
 *   notification id): a duplicate must get the first answer and not be applied again.
 * - Usage: batches of records over the subscriptions the Zuora chain created, an unanswered batch
 *   re-sent as is, answered ones now and then re-sent (duplicates), billing runs started now and then.
 * - Webhooks: one endpoint of the platform (all events) on the receiver sandbox; custom events
 *   published with an Idempotency-Key (re-sent the same way), and the endpoint disabled for a while
 *   then re-enabled with `replaySkipped`.
 */
export const SOAK_RECEIVER = 'soak';
export const ZUORA_SUBSCRIPTIONS = 4;
/** Index in a subscription's chain of its SUBSCRIPTIONISCREATED (usage may start once it is acknowledged). */
const SUBSCRIPTION_CREATED = 2;

export interface ZuoraEvent {
  index: number;
  body: Record<string, unknown>;
  notificationId: string;
  expected: 'CREATED' | 'UPGRADED';
  /** Capacity of the product once this event is applied. */
  capacity: number;
  sent: number;
  /** The first 200 answer: the item's hash (its published event is `<hash>-0`) and outcome name. */
  acked?: { hash: string; name: string };
  refused?: string;
}

export interface ZuoraSubscription {
  account: string;
  number: string;
  charge: string;
  events: ZuoraEvent[];
  /** Index of the first event not acknowledged yet (the chain advances only past acknowledged ones). */
  pos: number;
  /** Billed through AppDirect (`USAGE_APPDIRECT_SUBSCRIPTIONS`) rather than Zuora. */
  appdirect: boolean;
}

export interface TrafficCounts {
  ordersSent: number;
  ordersAccepted: number;
  zuoraSent: number;
  zuoraAcknowledged: number;
  zuoraDuplicatesSent: number;
  usageBatchesSent: number;
  usageRecordsAccepted: number;
  usageDuplicateBatchesSent: number;
  billingRunsStarted: number;
  customEventsPublished: number;
  customEventRetriesSent: number;
  endpointToggles: number;
  /** PATCHes re-enabling with replaySkipped answered `complete: false` (re-sent until complete). */
  replaySkippedIncomplete: number;
  kills: number;
  faults: number;
  clockMoves: number;
}

export const newCounts = (): TrafficCounts => ({
  ordersSent: 0,
  ordersAccepted: 0,
  zuoraSent: 0,
  zuoraAcknowledged: 0,
  zuoraDuplicatesSent: 0,
  usageBatchesSent: 0,
  usageRecordsAccepted: 0,
  usageDuplicateBatchesSent: 0,
  billingRunsStarted: 0,
  customEventsPublished: 0,
  customEventRetriesSent: 0,
  endpointToggles: 0,
  replaySkippedIncomplete: 0,
  kills: 0,
  faults: 0,
  clockMoves: 0,
});

export class ZuoraStream {
  readonly subscriptions: ZuoraSubscription[];
  /** Duplicates answered otherwise than the first time (hash or outcome). */
  readonly mismatches: string[] = [];
  private turn = 0;

  constructor(
    private readonly api: SuiteClient,
    private readonly random: () => number,
    private readonly counts: TrafficCounts,
    appdirectSubscriptions: Set<string>,
  ) {
    this.subscriptions = Array.from({ length: ZUORA_SUBSCRIPTIONS }, (_, i) => {
      const number = `SOAK-S${i + 1}`;
      return {
        account: `SOAK-A${i + 1}`,
        number,
        charge: `SOAK-C${i + 1}`,
        events: [],
        pos: 0,
        appdirect: appdirectSubscriptions.has(number),
      };
    });
  }

  /** The chain's event at `index`, built on first use (bodies never change, so re-sends are identical). */
  eventAt(sub: ZuoraSubscription, index: number): ZuoraEvent {
    const existing = sub.events[index];
    if (existing) return existing;
    const wrap = (typeEvent: string, item: Record<string, unknown>) => ({
      typeEvent,
      emitter: 'ZUORA',
      timestamp: new Date().toISOString(),
      payload: [item],
    });
    const product = (capacity: number) => ({
      zcharge: sub.charge,
      family: 'Adbackup',
      threshold: { newCapacity: capacity, unit: 'Giga' },
    });
    // Capacity 1 at creation, then +1 per upgrade.
    const capacity = Math.max(1, index - 1);
    const body =
      index === 0
        ? wrap('CLIENTISCREATED', {
            zReference: 'client',
            zaccount: sub.account,
            client: { name: `Soak ${sub.account}`, email: `${sub.account.toLowerCase()}@example.com` },
          })
        : index === 1
          ? wrap('WORKSPACEISADDEDTOPCLIENT', {
              zReference: 'workspace',
              zaccount: sub.account,
              zworkspace: 'main',
            })
          : index === SUBSCRIPTION_CREATED
            ? wrap('SUBSCRIPTIONISCREATED', {
                zReference: 'subscription',
                zaccount: sub.account,
                zworkspace: 'main',
                zsubscription: sub.number,
                products: [product(1)],
              })
            : wrap('ZLINKUPDATED', {
                zReference: `upgrade-${index}`,
                zaccount: sub.account,
                zsubscription: sub.number,
                product: product(capacity),
              });
    const event: ZuoraEvent = {
      index,
      body,
      notificationId: `soak-${sub.number}-${index}`,
      expected: index <= SUBSCRIPTION_CREATED ? 'CREATED' : 'UPGRADED',
      capacity,
      sent: 0,
    };
    sub.events[index] = event;
    return event;
  }

  ready(): ZuoraSubscription[] {
    return this.subscriptions.filter((s) => s.pos > SUBSCRIPTION_CREATED);
  }

  /** One request: the next event of one subscription, or (1 in 4) a duplicate of an acknowledged one. */
  async step(): Promise<void> {
    const sub = this.subscriptions[this.turn++ % this.subscriptions.length]!;
    const duplicate = sub.pos > 0 && this.random() < 0.25;
    const event = duplicate
      ? this.eventAt(sub, Math.floor(this.random() * sub.pos))
      : this.eventAt(sub, sub.pos);
    if (duplicate && !event.acked) return; // refused earlier: nothing to compare with
    const sameNotification = this.random() < 0.5;
    await this.send(sub, event, duplicate, sameNotification);
  }

  /** Re-sends the pending event of every subscription until acknowledged (Zuora retries). */
  async settle(tries: number, between: () => Promise<void>): Promise<void> {
    for (const sub of this.subscriptions) {
      const event = sub.events[sub.pos];
      if (!event || event.sent === 0) continue;
      for (let i = 0; i < tries && sub.pos === event.index; i++) {
        await this.send(sub, event, false, true);
        if (sub.pos === event.index) await between();
      }
    }
  }

  private async send(
    sub: ZuoraSubscription,
    event: ZuoraEvent,
    duplicate: boolean,
    sameNotification: boolean,
  ): Promise<void> {
    const client = this.api.devClient('zuora');
    this.counts.zuoraSent++;
    if (duplicate) this.counts.zuoraDuplicatesSent++;
    event.sent++;
    const res = await this.api.call('POST', '/v1/zuora/events', {
      as: 'zuora',
      body: event.body,
      headers: {
        'x-client-id': client.clientId,
        'zuora-notification-id': sameNotification
          ? event.notificationId
          : `${event.notificationId}-again-${this.counts.zuoraSent}`,
      },
    });
    if (!res) return;
    const detail = res.body?.details?.[0] as { calculedHash?: string; name?: string } | undefined;
    if (res.status === 200 && detail?.calculedHash && detail.name) {
      if (duplicate) {
        if (detail.calculedHash !== event.acked?.hash || detail.name !== event.acked?.name)
          this.mismatches.push(
            `${sub.number}#${event.index}: first ${event.acked?.name}, then ${detail.name}`,
          );
        return;
      }
      event.acked = { hash: detail.calculedHash, name: detail.name };
      this.counts.zuoraAcknowledged++;
      sub.pos++;
    } else if (res.status === 400 && !duplicate) {
      // Refused (Zuora does not retry a 400): counted against the invariants, the chain goes on.
      event.refused = `${detail?.name ?? 'HTTP 400'}: ${JSON.stringify(res.body).slice(0, 200)}`;
      sub.pos++;
    }
    // 401 (token expired by a clock move), 429, 5xx: sent again at this subscription's next turn.
  }
}

interface UsageRecord {
  id: string;
  subscriptionNumber: string;
  chargeNumber: string;
  unit: string;
  quantity: number;
  timestamp: string;
}

export class UsageStream {
  /** Every record the suite answered `accepted` or `duplicate` (stored), by id. */
  readonly stored = new Map<string, UsageRecord>();
  readonly rejected: string[] = [];
  private pending: UsageRecord[] | undefined;
  private last: UsageRecord[] | undefined;
  private next = 0;
  private nextRunAt = Date.now() + 15_000;

  constructor(
    private readonly api: SuiteClient,
    private readonly zuora: ZuoraStream,
    private readonly random: () => number,
    private readonly counts: TrafficCounts,
  ) {}

  /** Accepted totals per `subscription|charge`, in scaled units (exact). */
  expected(): Map<string, bigint> {
    const totals = new Map<string, bigint>();
    for (const r of this.stored.values()) {
      const k = `${r.subscriptionNumber}|${r.chargeNumber}`;
      totals.set(k, (totals.get(k) ?? 0n) + toScaled(r.quantity)!);
    }
    return totals;
  }

  async step(): Promise<void> {
    if (Date.now() >= this.nextRunAt) {
      this.nextRunAt = Date.now() + 10_000 + this.random() * 20_000;
      const run = await this.api.call('POST', '/v1/usage/billing-runs', { as: 'platform' });
      if (run?.status === 202) this.counts.billingRunsStarted++;
    }
    const ready = this.zuora.ready();
    if (ready.length === 0) return;
    let batch = this.pending;
    if (!batch && this.last && this.random() < 0.15) {
      batch = this.last;
      this.counts.usageDuplicateBatchesSent++;
    }
    if (!batch) {
      // Wall time: the hub clock only moves forward from it, so a record is never "in the future".
      const timestamp = new Date(Date.now() - 60_000).toISOString();
      batch = Array.from({ length: 1 + Math.floor(this.random() * 20) }, () => {
        const sub = ready[Math.floor(this.random() * ready.length)]!;
        return {
          id: `soak-u${++this.next}`,
          subscriptionNumber: sub.number,
          chargeNumber: sub.charge,
          unit: 'Giga',
          quantity: Math.round(this.random() * 1_000_000) / 1000,
          timestamp,
        };
      });
    }
    await this.send(batch);
  }

  /** Re-sends an unanswered batch until answered (a client that keeps its records). */
  async settle(tries: number, between: () => Promise<void>): Promise<void> {
    for (let i = 0; i < tries && this.pending; i++) {
      await this.send(this.pending);
      if (this.pending) await between();
    }
  }

  private async send(batch: UsageRecord[]): Promise<void> {
    this.counts.usageBatchesSent++;
    this.pending = batch;
    const res = await this.api.call('POST', '/v1/usage', { as: 'platform', body: { records: batch } });
    if (!res || (res.status !== 202 && res.status !== 400)) return;
    const results = (res.body?.results ?? res.body?.details ?? []) as Array<{
      index?: number;
      status?: string;
      code?: string;
      field?: string;
      message?: string;
    }>;
    if (res.status === 400 && !Array.isArray(res.body?.results)) {
      this.rejected.push(`batch refused: ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    for (const r of results) {
      const record = batch[r.index ?? -1];
      if (!record) continue;
      if (r.status === 'accepted' || r.status === 'duplicate') {
        if (!this.stored.has(record.id)) this.counts.usageRecordsAccepted++;
        this.stored.set(record.id, record);
      } else if (r.status === 'rejected') this.rejected.push(`${record.id}: ${r.code} ${r.message}`);
    }
    this.pending = undefined;
    this.last = batch;
  }
}

export class WebhookStream {
  endpointId: string | undefined;
  /** Custom events acknowledged 202: Idempotency-Key → eventId. */
  readonly published = new Map<string, string>();
  /** Retries of an acknowledged publication answered with another eventId. */
  readonly newIds: string[] = [];
  private pending: { key: string; n: number } | undefined;
  private next = 0;
  /** The endpoint is disabled for a while once, then re-enabled with replaySkipped. */
  disabled = false;
  private toggled = 0;

  constructor(
    private readonly api: SuiteClient,
    private readonly random: () => number,
    private readonly counts: TrafficCounts,
  ) {}

  /** Creates the endpoint (all event types, all tenants: the platform's token) and configures the receiver. */
  async setup(): Promise<void> {
    for (let i = 0; i < 20 && !this.endpointId; i++) {
      const res = await this.api.call('POST', '/v1/webhooks/endpoints', {
        as: 'platform',
        body: {
          url: `${this.api.url}/_sandbox/receiver/${SOAK_RECEIVER}`,
          eventTypes: ['*'],
          rateLimitPerSecond: 200,
          description: 'chaos soak',
        },
      });
      if (res?.status === 201) {
        const configured = await this.api.call('PUT', `/_sandbox/receiver/${SOAK_RECEIVER}/_config`, {
          body: { secret: res.body.secret },
        });
        if (configured?.status !== 200) throw new Error('receiver sandbox refused its secret');
        this.endpointId = res.body.id as string;
      } else await new Promise((r) => setTimeout(r, 1_000));
    }
    if (!this.endpointId) throw new Error('could not create the soak webhook endpoint');
  }

  async step(progress: number): Promise<void> {
    // Disabled from 40 % of the run to 55 %, then re-enabled with the skipped deliveries replayed.
    if (this.toggled === 0 && progress >= 0.4) {
      if (await this.setEnabled(false)) this.toggled = 1;
    } else if (this.toggled === 1 && progress >= 0.55) {
      if (await this.setEnabled(true)) this.toggled = 2;
    }
    let key: string;
    let n: number;
    if (this.pending) ({ key, n } = this.pending);
    else if (this.published.size > 0 && this.random() < 0.15) {
      n = 1 + Math.floor(this.random() * this.next);
      key = `soak-${n}`;
      if (!this.published.has(key)) return;
      this.counts.customEventRetriesSent++;
    } else {
      n = ++this.next;
      key = `soak-${n}`;
    }
    await this.publish(key, n);
  }

  async setEnabled(enabled: boolean): Promise<boolean> {
    const res = await this.api.call('PATCH', `/v1/webhooks/endpoints/${this.endpointId}`, {
      as: 'platform',
      body: enabled ? { status: 'enabled', replaySkipped: true } : { status: 'disabled' },
    });
    if (res?.status !== 200) return false;
    // Re-enabled, but the skipped deliveries are re-armed in bounded steps: PATCH again until complete.
    if (enabled && res.body?.replay?.complete === false) {
      this.counts.replaySkippedIncomplete++;
      return false;
    }
    this.disabled = !enabled;
    this.counts.endpointToggles++;
    return true;
  }

  async settle(tries: number, between: () => Promise<void>): Promise<void> {
    for (let i = 0; i < tries && this.disabled; i++) if (!(await this.setEnabled(true))) await between();
    for (let i = 0; i < tries && this.pending; i++) {
      await this.publish(this.pending.key, this.pending.n);
      if (this.pending) await between();
    }
  }

  private async publish(key: string, n: number): Promise<void> {
    this.pending = this.published.has(key) ? undefined : { key, n };
    const res = await this.api.call('POST', '/v1/webhooks/events', {
      as: 'platform',
      body: { type: 'custom.soak.ping', data: { n } },
      headers: { 'idempotency-key': key },
    });
    if (res?.status !== 202 || typeof res.body?.eventId !== 'string') return;
    const first = this.published.get(key);
    if (first === undefined) {
      this.published.set(key, res.body.eventId);
      this.counts.customEventsPublished++;
    } else if (first !== res.body.eventId) this.newIds.push(`${key}: ${first} then ${res.body.eventId}`);
    if (this.pending?.key === key) this.pending = undefined;
  }
}
