import type { Clock } from '../../shared/clock.ts';
import { epochSeconds } from '../../shared/clock.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import type { HttpResponse } from '../../shared/http/types.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { logger } from '../../shared/logger.ts';
import { itemHash } from './hash.ts';
import {
  type Applied,
  appliedOn,
  clientKey,
  fromItem,
  type ItemResult,
  itemKeyId,
  type Plan,
  type Prefetched,
  receiptKey,
  WriteConflictError,
  workspaceKey,
  type ZuoraStore,
} from './model.ts';
import { loadState, planCommand } from './plan.ts';
import { buildResponse, echoOf, requestKo } from './respond.ts';
import {
  detectShape,
  type Envelope,
  envelopeSchema,
  type ItemDetail,
  type OutcomeName,
  parseItem,
  type ZuoraCommand,
} from './schema.ts';

/** What one request did, for metrics and the log line (no personal fields). */
export interface EventObservation {
  typeEvent: string;
  statusCode: number;
  outcomes: OutcomeName[];
  accounts: string[];
  subscriptions: string[];
  latencyMs: number;
  replayed: boolean;
}

export interface ReceiveEventDeps {
  store: ZuoraStore;
  publisher: Publisher;
  clock: Clock;
  ids: IdGenerator;
  /** Tenant whose subscribers receive the Zuora model's events (`PLATFORM_TENANT`). */
  platformTenant: string;
  observe?: (o: EventObservation) => void;
  sleep?: (ms: number) => Promise<void>;
  /** How long a claim is held; longer than the function timeout. */
  leaseMs?: number;
  /** How long a duplicate waits for the in-flight delivery of the same item before answering 500. */
  waitMs?: number;
}

export interface ReceiveEventInput {
  body: unknown;
  /** `Zuora-Notification-Id`, stable across Zuora's retries of one notification. */
  notificationId?: string;
}

const POLL_MS = 50;
const ACCOUNT_CONCURRENCY = 8;
const RETENTION_SECONDS = 90 * 24 * 3600;
const NOTIFICATION_ID = /^[\w.:-]{1,128}$/;

/**
 * Applies a Zuora event (seed Event API): validates the envelope, then each payload item on its own,
 * exactly once per `calculedHash`, and answers in the request's shape. A repeated
 * `Zuora-Notification-Id` returns the first response unless that one was a 500 (then Zuora's retry
 * is processed again, and the items already applied answer their first result).
 */
export async function receiveZuoraEvent(
  input: ReceiveEventInput,
  deps: ReceiveEventDeps,
): Promise<HttpResponse> {
  const started = deps.clock.now().getTime();
  const shape = detectShape(input.body);
  const echo = echoOf(input.body);
  const parsed = envelopeSchema.safeParse(input.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.map(String).join('.') : 'body';
    const res = requestKo(shape, echo, 400, 'BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`);
    observe(deps, String(echo.typeEvent ?? 'UNKNOWN'), res.statusCode, ['BAD_REQUEST'], [], started, false);
    return res;
  }
  const envelope = parsed.data;
  if (input.notificationId !== undefined && !NOTIFICATION_ID.test(input.notificationId)) {
    return requestKo(
      shape,
      echo,
      400,
      'BAD_REQUEST',
      'Zuora-Notification-Id: 1-128 letters, digits, . _ : -',
    );
  }

  const owner = deps.ids.next('zev');
  let notificationOwned = false;
  if (input.notificationId) {
    const requestHash = itemHash('REQUEST', input.body);
    const claim = await deps.store.claimNotification(
      input.notificationId,
      requestHash,
      owner,
      deps.clock.now().getTime(),
      deps.leaseMs ?? 30_000,
    );
    notificationOwned = claim.claimed;
    const first = claim.record;
    if (!claim.claimed && first?.status === 'done' && first.requestHash === requestHash && first.response) {
      observe(deps, envelope.typeEvent, first.response.statusCode, [], [], started, true);
      return first.response;
    }
    // Otherwise a duplicate in flight, or the id reused for another body: the items' own claims
    // keep every effect single, so process without recording under this id.
  }

  const commands: ZuoraCommand[] = [];
  const details: ItemDetail[] = new Array(envelope.payload.length);
  const items: Array<{ index: number; command: ZuoraCommand; hash: string; zReference: string | null }> = [];
  for (const [index, item] of envelope.payload.entries()) {
    const parsedItem = parseItem(envelope.typeEvent, shape, item, index);
    if (!parsedItem.ok) {
      details[index] = failed(parsedItem.zReference, 'BAD_REQUEST', parsedItem.message);
      continue;
    }
    const { command, zReference } = parsedItem;
    commands.push(command);
    items.push({ index, command, hash: itemHash(envelope.typeEvent, item), zReference });
  }

  // One round trip reads every item's receipt and the client/workspace it plans from.
  const prefetched: Prefetched = items.length
    ? await deps.store.prefetch(
        items.map((i) => i.hash),
        items.flatMap((i) => stateKeys(i.command)),
      )
    : { receipts: new Map(), entities: new Map() };
  const batch: RequestBatch = { prefetched, store: requestStore(deps.store, prefetched), settled: [] };
  // Items of one account run in payload order (a workspace needs its client); accounts run side by side.
  const chains = new Map<string, Array<() => Promise<void>>>();
  for (const { index, command, hash, zReference } of items) {
    const chain = chains.get(command.accountNumber) ?? [];
    chain.push(async () => {
      details[index] = await applyItem(command, hash, zReference, envelope, owner, deps, batch);
    });
    chains.set(command.accountNumber, chain);
  }
  await inParallel([...chains.values()], ACCOUNT_CONCURRENCY, async (chain) => {
    for (const step of chain) await step();
  });
  await settle(batch, details, owner, deps);
  const res = buildResponse(shape, echo, details);

  if (input.notificationId && notificationOwned) {
    const id = input.notificationId;
    // A 500 is not final (Zuora retries it and must get a fresh attempt), so it is not recorded.
    if (res.statusCode === 500) await deps.store.releaseNotification(id, owner);
    else
      await deps.store
        .completeNotification(id, owner, { statusCode: res.statusCode, body: res.body }, expiry(deps))
        .catch((error) => {
          if (!(error instanceof WriteConflictError)) throw error;
        });
  }
  observe(
    deps,
    envelope.typeEvent,
    res.statusCode,
    details.map((d) => d.name),
    commands,
    started,
    false,
  );
  return res;
}

const failed = (zReference: string | null, name: OutcomeName, message: string): ItemDetail => ({
  zReference,
  calculedHash: null,
  success: false,
  name,
  message,
});

const expiry = (deps: ReceiveEventDeps) => epochSeconds(deps.clock.now()) + RETENTION_SECONDS;

const detailOf = (result: ItemResult, hash: string, zReference: string | null): ItemDetail =>
  result.success
    ? { zReference, calculedHash: hash, ...result }
    : { zReference, calculedHash: null, ...result };

/**
 * The request-wide state of item processing: what was read up front, and the items decided by a
 * single entity write (their events and results are written once for the whole request).
 */
interface RequestBatch {
  prefetched: Prefetched;
  /** The store the request's items use: first reads answered from `prefetched` (once per key). */
  store: ZuoraStore;
  settled: Array<{ hash: string; applied: Applied }>;
}

/** The items a command plans from that a get can read (a subscription is a query: read when planned). */
function stateKeys(command: ZuoraCommand): Array<{ PK: string; SK: string }> {
  return [
    clientKey(command.accountNumber),
    ...('workspace' in command ? [workspaceKey(command.accountNumber, command.workspace)] : []),
  ];
}

/**
 * The store as the request's items see it: the first read of a receipt or entity comes from the
 * request's prefetch, later reads (an earlier item of the same account may have written since) from
 * the table. Items of one account run one after the other, so "first" is well defined per key.
 */
function requestStore(store: ZuoraStore, prefetched: Prefetched): ZuoraStore {
  const used = new Set<string>();
  const first = <T>(id: string, cached: () => T, read: () => Promise<T>): Promise<T> => {
    if (used.has(id)) return read();
    used.add(id);
    return Promise.resolve(cached());
  };
  return Object.assign(Object.create(store) as ZuoraStore, {
    getClient: (account: string) => {
      const k = clientKey(account);
      return first(
        itemKeyId(k),
        () => {
          const item = prefetched.entities.get(itemKeyId(k));
          return item ? fromItem.client(item) : undefined;
        },
        () => store.getClient(account),
      );
    },
    getWorkspace: (account: string, workspace: string) => {
      const k = workspaceKey(account, workspace);
      return first(
        itemKeyId(k),
        () => {
          const item = prefetched.entities.get(itemKeyId(k));
          return item ? fromItem.workspace(item) : undefined;
        },
        () => store.getWorkspace(account, workspace),
      );
    },
    getReceipt: (hash: string) =>
      first(
        itemKeyId(receiptKey(hash)),
        () => prefetched.receipts.get(hash),
        () => store.getReceipt(hash),
      ),
  });
}

/** The result and events this very item left on an entity it wrote alone (a redelivery). */
const appliedBy = (hash: string, state: { client?: unknown; workspace?: unknown }) =>
  [state.client, state.workspace]
    .map((e) => appliedOn(e as Parameters<typeof appliedOn>[0], hash))
    .find((a) => a !== undefined);

/**
 * One item, exactly once per hash. Two protocols, chosen by the plan:
 * - a plan of ONE entity write (a new client, a new workspace: the common case) writes the entity
 *   with a condition on the state it planned from, carrying its result and events (`lastApplied`):
 *   that write is the claim. Its events and result are written after every item of the request
 *   (`settle`); a redelivery before that finds the entity written by this hash and answers from it.
 * - any other plan claims the hash with the plan (write-ahead; a crashed holder's plan wins),
 *   writes, publishes, and stores its result.
 */
async function applyItem(
  command: ZuoraCommand,
  hash: string,
  zReference: string | null,
  envelope: Envelope,
  owner: string,
  deps: ReceiveEventDeps,
  batch: RequestBatch,
): Promise<ItemDetail> {
  const store = batch.store;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    const seen = await store.getReceipt(hash);
    if (seen?.status === 'done' && seen.result) return detailOf(seen.result, hash, zReference);
    const state = await loadState(command, store);
    const written = appliedBy(hash, state);
    if (written) {
      // This item's entity write landed but its result was not stored yet: finish it (again).
      batch.settled.push({ hash, applied: written });
      return detailOf(written.result, hash, zReference);
    }
    const fresh = planCommand(command, state, {
      hash,
      now: deps.clock.now(),
      ids: deps.ids,
      tenant: deps.platformTenant,
      emitter: envelope.emitter,
    });
    if (!fresh.result.success) {
      // A refusal writes nothing and is not remembered (the client may exist tomorrow), but the
      // same item applied earlier (since superseded, e.g. by a later upgrade) answers its first result.
      return detailOf(seen?.status === 'done' && seen.result ? seen.result : fresh.result, hash, zReference);
    }
    const [only] = fresh.ops;
    if (!seen && fresh.ops.length === 1 && only?.kind === 'put') {
      const applied: Applied = { hash, result: fresh.result, events: fresh.events };
      try {
        await store.execute(only, hash, deps.clock.now(), applied);
      } catch (error) {
        if (!(error instanceof WriteConflictError)) throw error;
        // Another change of the entity since we read it, or another delivery of this item: plan again.
        return await applySlowly(
          command,
          hash,
          zReference,
          envelope,
          owner,
          { ...deps, store },
          batch,
          sleep,
        );
      }
      batch.settled.push({ hash, applied });
      return detailOf(fresh.result, hash, zReference);
    }
    return await claimAndApply(fresh, command, hash, zReference, owner, { ...deps, store }, sleep);
  } catch (error) {
    logger.error('zuora event item failed', { error, hash, type: command.type });
    return failed(zReference, 'INTERNAL_SERVER_ERROR', 'the item could not be applied; retry later');
  }
}

/** Plans from the table as it is now, then applies through a claim (after a lost race). */
async function applySlowly(
  command: ZuoraCommand,
  hash: string,
  zReference: string | null,
  envelope: Envelope,
  owner: string,
  deps: ReceiveEventDeps,
  batch: RequestBatch,
  sleep: (ms: number) => Promise<void>,
): Promise<ItemDetail> {
  const state = await loadState(command, deps.store);
  const written = appliedBy(hash, state);
  if (written) {
    // A concurrent delivery of this item wrote first: same result (and its events, once more).
    batch.settled.push({ hash, applied: written });
    return detailOf(written.result, hash, zReference);
  }
  const fresh = planCommand(command, state, {
    hash,
    now: deps.clock.now(),
    ids: deps.ids,
    tenant: deps.platformTenant,
    emitter: envelope.emitter,
  });
  if (!fresh.result.success) return detailOf(fresh.result, hash, zReference);
  return claimAndApply(fresh, command, hash, zReference, owner, deps, sleep);
}

/** The write-ahead protocol: claim with the plan, write, publish, store the first result. */
async function claimAndApply(
  fresh: Plan,
  command: ZuoraCommand,
  hash: string,
  zReference: string | null,
  owner: string,
  deps: ReceiveEventDeps,
  sleep: (ms: number) => Promise<void>,
): Promise<ItemDetail> {
  const { store } = deps;
  // Polls by count, not by clock: the hub clock can be frozen or moved by the local runtime.
  const polls = Math.ceil((deps.waitMs ?? 3_000) / POLL_MS);
  let plan: Plan | undefined;
  for (let attempt = 0; ; attempt++) {
    const claim = await store.claimReceipt(
      hash,
      owner,
      deps.clock.now().getTime(),
      deps.leaseMs ?? 30_000,
      fresh,
    );
    if (claim.claimed) {
      plan = claim.record.plan ?? fresh;
      break;
    }
    if (claim.record?.status === 'done' && claim.record.result) {
      return detailOf(claim.record.result, hash, zReference);
    }
    if (attempt >= polls) {
      return failed(
        zReference,
        'INTERNAL_SERVER_ERROR',
        'a delivery of this item is in progress; retry later',
      );
    }
    await sleep(POLL_MS);
  }

  try {
    const now = deps.clock.now();
    for (const op of plan.ops) await store.execute(op, hash, now);
    if (plan.events.length) {
      await deps.publisher.publish(
        plan.events.map((e) => ({
          type: e.type,
          detail: e.detail as Record<string, unknown> & { tenant: string },
        })),
      );
    }
  } catch (error) {
    const conflict = error instanceof WriteConflictError;
    await store.releaseReceipt(hash, owner, conflict ? 'replan' : 'keepPlan');
    if (conflict) {
      logger.warn('zuora event item conflicted with a concurrent change', { hash, type: command.type });
      return failed(zReference, 'INTERNAL_SERVER_ERROR', 'a concurrent change of the same entity; retry');
    }
    throw error;
  }
  await store.completeReceipt(hash, owner, plan.result, expiry(deps)).catch((error) => {
    // Our lease ran out and another delivery took over: it finishes the same plan, same result.
    if (!(error instanceof WriteConflictError)) throw error;
  });
  return detailOf(plan.result, hash, zReference);
}

/**
 * Finishes the items decided by a single write: publishes their events (one PutEvents per ten) and
 * records their results (one batch write per 25). If that fails they answer 500: Zuora retries, and
 * the retry finds the entities written by these hashes and finishes them with the first results.
 */
async function settle(batch: RequestBatch, details: ItemDetail[], owner: string, deps: ReceiveEventDeps) {
  if (!batch.settled.length) return;
  try {
    const events = batch.settled.flatMap((s) => s.applied.events);
    if (events.length) {
      await deps.publisher.publish(
        events.map((e) => ({
          type: e.type,
          detail: e.detail as Record<string, unknown> & { tenant: string },
        })),
      );
    }
    await deps.store.recordResults(
      batch.settled.map((s) => ({ hash: s.hash, owner, result: s.applied.result, expiresAt: expiry(deps) })),
    );
  } catch (error) {
    logger.error('zuora event results could not be recorded', { error, items: batch.settled.length });
    const hashes = new Set(batch.settled.map((s) => s.hash));
    for (const [i, d] of details.entries()) {
      if (d?.calculedHash && hashes.has(d.calculedHash)) {
        details[i] = failed(
          d.zReference,
          'INTERNAL_SERVER_ERROR',
          'the item could not be recorded; retry later',
        );
      }
    }
  }
}

function observe(
  deps: ReceiveEventDeps,
  typeEvent: string,
  statusCode: number,
  outcomes: OutcomeName[],
  commands: ZuoraCommand[],
  started: number,
  replayed: boolean,
): void {
  const unique = (values: Array<string | undefined>) => [...new Set(values.filter((v): v is string => !!v))];
  const observation: EventObservation = {
    typeEvent,
    statusCode,
    outcomes,
    accounts: unique(commands.map((c) => c.accountNumber)),
    subscriptions: unique(
      commands.map((c) => ('subscriptionNumber' in c ? c.subscriptionNumber : undefined)),
    ),
    latencyMs: deps.clock.now().getTime() - started,
    replayed,
  };
  // Only ids, outcomes and timings: the command's personal fields are never part of this line.
  logger.info('zuora event handled', { ...observation });
  deps.observe?.(observation);
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
