import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ReceiveNotificationDeps,
  receiveNotification,
} from '../../../functions/appdirect-events/receive-notification.ts';
import { type NotifierDeps, postEventResult } from '../../../functions/appdirect-notifier/notify.ts';
import { failure, success } from '../../../shared/appdirect/answers.ts';
import { signRequest } from '../../../shared/clients/appdirect-oauth1.ts';
import type { Clock } from '../../../shared/clock.ts';
import { AppDirectEventStore } from '../../../shared/db/entities/appdirect-events.ts';
import { AppError, TransientError } from '../../../shared/errors.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { orderEvent, testMarketplace } from './fakes.ts';

/**
 * The notification URL's order of checks (pinning, signature, first answer, fetch, handling) and the
 * notifier's exactly-once result posting, on the embedded DynamoDB with fake marketplace calls.
 */
let table: TestTable;
let events: AppDirectEventStore;
const now = Date.parse('2026-11-23T10:00:00Z');
const clock: Clock = { now: () => new Date(now) };
const marketplace = testMarketplace();
const creds = { clientId: 'c', clientSecret: 's', consumerKey: 'product', consumerSecret: 'product-secret' };
const hubUrl = 'https://hub.example.com/v1/channels/appdirect/events';
const eventUrl = (id: string) => `${marketplace.baseUrl}/api/integration/v1/events/${id}`;

beforeAll(async () => {
  table = await startTestTable();
  events = new AppDirectEventStore(table.doc, table.tableName);
});
afterAll(async () => {
  await table.stop();
});

const count = async () => (await table.doc.send(new ScanCommand({ TableName: table.tableName }))).Count ?? 0;

function setup(fetched: () => Promise<{ status: number; body: unknown }>) {
  const deps = {
    stage: 'prod',
    clock,
    marketplaces: async () => [marketplace],
    secret: async () => creds,
    fetchEvent: vi.fn(async () => fetched()),
    process: vi.fn(async () => ({ kind: 'answer' as const, result: success('done') })),
    events,
    complete: vi.fn(async () => {}),
  } satisfies ReceiveNotificationDeps;
  const call = (id: string, sign = true, over: { eventUrl?: string; consumerSecret?: string } = {}) => {
    const url = `${hubUrl}?eventUrl=${encodeURIComponent(over.eventUrl ?? eventUrl(id))}`;
    return receiveNotification(
      {
        eventUrl: over.eventUrl ?? eventUrl(id),
        requestUrl: url,
        method: 'GET',
        authorization: sign
          ? signRequest({
              method: 'GET',
              url,
              credentials: {
                consumerKey: 'product',
                consumerSecret: over.consumerSecret ?? 'product-secret',
              },
              timestampSeconds: now / 1000,
            })
          : undefined,
      },
      deps,
    );
  };
  return { deps, call };
}

const statusOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 0;
  } catch (error) {
    return error instanceof AppError ? error.status : -1;
  }
};

describe('the notification URL', () => {
  it('refuses an unpinned eventUrl or a bad signature with nothing fetched or stored', async () => {
    const { deps, call } = setup(async () => ({ status: 200, body: orderEvent() }));
    const before = await count();
    expect(
      await statusOf(call('n1', true, { eventUrl: 'https://evil.example.com/api/integration/v1/events/n1' })),
    ).toBe(400);
    expect(await statusOf(call('n1', false))).toBe(401);
    expect(await statusOf(call('n1', true, { consumerSecret: 'guess' }))).toBe(401);
    expect(deps.fetchEvent).not.toHaveBeenCalled();
    expect(await count()).toBe(before);
  });

  it('answers once: a redelivered notification gets the first answer without fetching again', async () => {
    const { deps, call } = setup(async () => ({ status: 200, body: orderEvent() }));
    const first = await call('n2');
    expect(first).toEqual({ statusCode: 200, body: success('done') });
    deps.process.mockResolvedValue({ kind: 'answer', result: failure('UNKNOWN_ERROR', 'another answer') });
    expect(await call('n2')).toEqual(first);
    expect(deps.fetchEvent).toHaveBeenCalledTimes(1);
    expect(deps.process).toHaveBeenCalledTimes(1);
  });

  it('a marketplace outage becomes a 202 and the notifier finishes the event', async () => {
    const { deps, call } = setup(async () => {
      throw new TransientError('503 three times');
    });
    const first = await call('n3');
    expect(first.statusCode).toBe(202);
    expect(deps.complete).toHaveBeenCalledWith({
      kind: 'complete-event',
      marketplaceId: 'home',
      eventId: 'n3',
      eventUrl: eventUrl('n3'),
    });
    expect(await call('n3')).toEqual(first);
    expect(deps.complete).toHaveBeenCalledTimes(1);
  });

  it('an unknown or malformed event is a 400 in AppDirect’s shape, nothing stored', async () => {
    const before = await count();
    expect(await statusOf(setup(async () => ({ status: 404, body: {} })).call('n4'))).toBe(400);
    const bad = setup(async () => ({
      status: 200,
      body: { type: 'SUBSCRIPTION_CHANGE', marketplace: { baseUrl: 'x' } },
    }));
    await expect(bad.call('n5')).rejects.toMatchObject({
      code: 'INVALID_EVENT',
      details: expect.arrayContaining([
        expect.objectContaining({ field: 'event.payload.account.accountIdentifier' }),
      ]),
    });
    expect(bad.deps.process).not.toHaveBeenCalled();
    expect(await count()).toBe(before);
  });
});

describe('the notifier posts a result once', () => {
  const notifier = (post: () => Promise<{ status: number; body: unknown }>) => {
    const postResult = vi.fn(async () => post());
    const deps = { clock, events, postResult } as unknown as NotifierDeps;
    return { deps, postResult };
  };

  it('stores the first result, posts it once, and never again', async () => {
    await events.recordAnswer(
      { marketplaceId: 'home', eventId: 'r1', answer: { statusCode: 202, body: {} } },
      clock.now(),
    );
    const { deps, postResult } = notifier(async () => ({ status: 200, body: {} }));
    expect(
      await postEventResult(
        { marketplace, eventId: 'r1', result: success('ok', { accountIdentifier: 'a1' }) },
        deps,
      ),
    ).toBe('posted');
    expect(
      await postEventResult({ marketplace, eventId: 'r1', result: failure('UNKNOWN_ERROR', 'later') }, deps),
    ).toBe('already-posted');
    expect(postResult).toHaveBeenCalledTimes(1);
    expect((await events.get('home', 'r1'))?.result).toEqual(success('ok', { accountIdentifier: 'a1' }));
  });

  it('a 409 means the marketplace already has it; an unanswered event waits; a synchronous answer needs no post', async () => {
    await events.recordAnswer(
      { marketplaceId: 'home', eventId: 'r2', answer: { statusCode: 202, body: {} } },
      clock.now(),
    );
    const conflict = notifier(async () => ({ status: 409, body: {} }));
    expect(await postEventResult({ marketplace, eventId: 'r2', result: success('ok') }, conflict.deps)).toBe(
      'already-posted',
    );
    expect(await postEventResult({ marketplace, eventId: 'r2', result: success('ok') }, conflict.deps)).toBe(
      'already-posted',
    );
    expect(conflict.postResult).toHaveBeenCalledTimes(1);

    const waiting = notifier(async () => ({ status: 200, body: {} }));
    await expect(
      postEventResult({ marketplace, eventId: 'r3', result: success('ok') }, waiting.deps),
    ).rejects.toBeInstanceOf(TransientError);
    await events.recordAnswer(
      { marketplaceId: 'home', eventId: 'r3', answer: { statusCode: 200, body: {} } },
      clock.now(),
    );
    expect(await postEventResult({ marketplace, eventId: 'r3', result: success('ok') }, waiting.deps)).toBe(
      'already-posted',
    );
    expect(waiting.postResult).not.toHaveBeenCalled();
  });
});
