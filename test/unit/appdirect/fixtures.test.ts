import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appDirectResultSchema } from '../../../shared/appdirect/answers.ts';
import { linesForOrder } from '../../../shared/appdirect/editions.ts';
import { APPDIRECT_EVENT_TYPES, appDirectEventSchema, parseEvent } from '../../../shared/appdirect/events.ts';
import { ValidationError } from '../../../shared/errors.ts';
import { readReferenceJson, referencePath } from '../../helpers/reference.ts';

/**
 * Every fixture of AppDirect's integration SDK (`../shared/reference/data/appdirect/`) parses with
 * the connector's schemas: the thirteen events as events, the two results as results. The two
 * documents that are not events (a Billing Usage V1 request, and User Sync tasks) are refused as
 * events, naming what is missing. The tolerance AppDirect asks for is exercised too.
 */
const dir = referencePath('data/appdirect');
const top = readdirSync(dir).filter((f) => f.endsWith('.json'));
const eventFixtures = top.filter((f) => f.startsWith('subscription-') || f.startsWith('user-'));
const notEvents = [
  ...top.filter((f) => !eventFixtures.includes(f)).map((f) => f),
  ...readdirSync(`${dir}/usersync`).map((f) => `usersync/${f}`),
];

describe('AppDirect SDK fixtures', () => {
  it('are all accounted for (13 events, the usage request, two results, two user-sync tasks)', () => {
    expect(eventFixtures).toHaveLength(13);
    expect(notEvents).toEqual(
      expect.arrayContaining(['usage-report-bill-request.json', 'usersync/usersync-assign.json']),
    );
    expect(readdirSync(`${dir}/results`).filter((f) => f.endsWith('.json'))).toHaveLength(3);
  });

  it.each(eventFixtures)('%s parses as an event', (file) => {
    const parsed = appDirectEventSchema.safeParse(readReferenceJson('data/appdirect', file));
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(APPDIRECT_EVENT_TYPES).toContain(parsed.data!.type);
  });

  it.each(['success.json', 'unknown_error.json'])('results/%s parses as an event result', (file) => {
    const parsed = appDirectResultSchema.safeParse(readReferenceJson('data/appdirect/results', file));
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it.each(notEvents)('%s is not an event: refused naming the missing type', (file) => {
    expect(() => parseEvent(readReferenceJson('data/appdirect', file))).toThrow(ValidationError);
    try {
      parseEvent(readReferenceJson('data/appdirect', file));
    } catch (error) {
      expect((error as ValidationError).details.map((d) => d.field)).toContain('event.type');
    }
  });

  it('keeps what the hub needs: numeric strings become numbers, notices their type', () => {
    const change = appDirectEventSchema.parse(readReferenceJson('data/appdirect/subscription-change.json'));
    expect(change.payload?.order?.items).toEqual([{ unit: 'GIGABYTE', quantity: 25 }]);
    expect(change.payload?.account?.accountIdentifier).toBe('206123');
    const notices = [
      'subscription-closed',
      'subscription-deactivated',
      'subscription-reactivated',
      'subscription-upcoming-invoice',
    ];
    expect(
      notices.map(
        (n) =>
          appDirectEventSchema.parse(readReferenceJson(`data/appdirect/${n}.json`)).payload?.notice?.type,
      ),
    ).toEqual(['CLOSED', 'DEACTIVATED', 'REACTIVATED', 'UPCOMING_INVOICE']);
    const addon = appDirectEventSchema.parse(
      readReferenceJson('data/appdirect/subscription-order-addon.json'),
    );
    expect(addon.payload?.account?.parentAccountIdentifier).toBe('the-account-id-of-the-main-app');
  });

  it('ignores unknown fields and refuses what a type needs, by path', () => {
    const order = readReferenceJson<Record<string, any>>('data/appdirect/subscription-order.json');
    const parsed = appDirectEventSchema.parse({ ...order, somethingNew: { x: 1 } });
    expect(parsed).not.toHaveProperty('somethingNew');
    const change = readReferenceJson<Record<string, any>>('data/appdirect/subscription-change.json');
    const broken = { ...change, payload: { ...change.payload, account: { accountIdentifier: null } } };
    const result = appDirectEventSchema.safeParse(broken);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain('payload.account.accountIdentifier');
    const badQuantity = {
      ...change,
      payload: {
        ...change.payload,
        order: { ...change.payload.order, items: [{ unit: 'USER', quantity: '-3' }] },
      },
    };
    expect(appDirectEventSchema.safeParse(badQuantity).success).toBe(false);
  });

  it('a STATELESS ping needs nothing but its type', () => {
    expect(
      appDirectEventSchema.safeParse({
        type: 'SUBSCRIPTION_CHANGE',
        marketplace: { baseUrl: 'x' },
        flag: 'STATELESS',
      }).success,
    ).toBe(true);
    expect(
      appDirectEventSchema.safeParse({ type: 'SUBSCRIPTION_CHANGE', marketplace: { baseUrl: 'x' } }).success,
    ).toBe(false);
  });

  it('maps the fixtures’ editions and units onto the catalogue', () => {
    const order = appDirectEventSchema.parse(readReferenceJson('data/appdirect/subscription-order.json'));
    expect(linesForOrder(order.payload!.order!)).toEqual({
      ok: true,
      lines: [{ productCode: 'SB-PRO', quantity: 5, unit: 'seat' }],
    });
    const change = appDirectEventSchema.parse(readReferenceJson('data/appdirect/subscription-change.json'));
    expect(linesForOrder(change.payload!.order!)).toEqual({
      ok: true,
      lines: [
        { productCode: 'SB-ENT', quantity: 25, unit: 'seat' },
        { productCode: 'SB-STORAGE', quantity: 25, unit: 'GB' },
      ],
    });
    expect(linesForOrder({ editionCode: 'NOPE', items: [] })).toMatchObject({ ok: false });
    expect(linesForOrder({ editionCode: 'BASIC', items: [{ unit: 'PARSEC', quantity: 1 }] })).toMatchObject({
      ok: false,
    });
  });
});
