import type { Clock } from '../../shared/clock.ts';
import { epochSeconds } from '../../shared/clock.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import type { HttpResponse } from '../../shared/http/types.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { logger } from '../../shared/logger.ts';
import { itemHash } from './hash.ts';
import { type ItemResult, type Plan, WriteConflictError, type ZuoraStore } from './model.ts';
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
  // Items of one account run in payload order (a workspace needs its client); accounts run side by side.
  const chains = new Map<string, Array<() => Promise<void>>>();
  for (const [index, item] of envelope.payload.entries()) {
    const parsedItem = parseItem(envelope.typeEvent, shape, item, index);
    if (!parsedItem.ok) {
      details[index] = failed(parsedItem.zReference, 'BAD_REQUEST', parsedItem.message);
      continue;
    }
    const { command, zReference } = parsedItem;
    commands.push(command);
    const hash = itemHash(envelope.typeEvent, item);
    const chain = chains.get(command.accountNumber) ?? [];
    chain.push(async () => {
      details[index] = await applyItem(command, hash, zReference, envelope, owner, deps);
    });
    chains.set(command.accountNumber, chain);
  }
  await inParallel([...chains.values()], ACCOUNT_CONCURRENCY, async (chain) => {
    for (const step of chain) await step();
  });
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
 * One item, exactly once per hash: plan from the current state → claim the hash together with the
 * plan (write-ahead; a crashed holder's plan wins) → writes → events → result.
 */
async function applyItem(
  command: ZuoraCommand,
  hash: string,
  zReference: string | null,
  envelope: Envelope,
  owner: string,
  deps: ReceiveEventDeps,
): Promise<ItemDetail> {
  const { store } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    const fresh = planCommand(command, await loadState(command, store), {
      hash,
      now: deps.clock.now(),
      ids: deps.ids,
      tenant: deps.platformTenant,
      emitter: envelope.emitter,
    });
    if (!fresh.result.success) {
      // A refusal writes nothing and is not remembered (the client may exist tomorrow), but the
      // same item applied earlier (since superseded, e.g. by a later upgrade) answers its first result.
      const seen = await store.getReceipt(hash);
      return detailOf(seen?.status === 'done' && seen.result ? seen.result : fresh.result, hash, zReference);
    }

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
  } catch (error) {
    logger.error('zuora event item failed', { error, hash, type: command.type });
    return failed(zReference, 'INTERNAL_SERVER_ERROR', 'the item could not be applied; retry later');
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
