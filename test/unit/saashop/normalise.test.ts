import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type NormaliseSettings,
  normaliseSaashopOrder,
} from '../../../functions/saashop-poller/normalise.ts';
import { SaashopSandbox } from '../../../local/sandboxes/saashop.ts';
import { orderRequestSchema } from '../../../shared/orders/contract.ts';
import { repoRoot } from '../../helpers/reference.ts';
import { sandboxContext } from '../../helpers/sandbox-fetch.ts';
import { UBL_EXAMPLES, ublExample } from '../../helpers/ubl.ts';

/**
 * The UBL normaliser over the UBL 2.1 reference examples (converted to SaaShop's JSON), every sample
 * order under `events/saashop/orders/`, orders the sandbox generates, and arbitrary input.
 */
const settings: NormaliseSettings = {
  currencies: ['USD', 'EUR', 'GBP'],
  partner: {
    id: 'saashop',
    name: 'SaaShop',
    contact: { firstName: 'SaaShop', lastName: 'Marketplace', email: 'orders@saashop.example' },
  },
};

type Json = Record<string, any>;
const clone = <T>(v: T): T => structuredClone(v);

describe('the UBL 2.1 reference examples', () => {
  it('the Order example maps onto the order contract once its codes are the catalogue’s', () => {
    const order = ublExample('UBL-Order-2.1-Example.xml') as Json;
    order.orderTypeCode = 'Purchase';
    order.documentCurrencyCode = 'EUR';
    const [first, second] = order.documentLines as Json[];
    first!.lineItem.item.sellersItemIdentification.id = 'SB-PRO';
    first!.lineItem.quantity.unitCode = 'C62';
    first!.lineItem.price.priceAmount.currencyID = 'EUR';
    second!.lineItem.item.sellersItemIdentification.id = 'SB-ENT';
    second!.lineItem.price.priceAmount.currencyID = 'EUR';

    const result = normaliseSaashopOrder(order, settings);
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    expect(result.order).toEqual({
      channelOrderId: '34',
      orderType: 'Purchase',
      currency: 'EUR',
      sellTo: {
        company: 'Johnssons byggvaror',
        contact: { firstName: 'Pelle', lastName: 'Svensson', email: 'pelle@johnsson.se', phone: '123456' },
        address: {
          line1: 'Rådhusgatan 5',
          line2: '2nd floor',
          city: 'Stockholm',
          region: 'RegionX',
          postalCode: '11000',
          country: 'SE',
        },
      },
      partner: settings.partner,
      lines: [
        // Validity ends 11 days after the issue date: the shortest term, one month.
        { productCode: 'SB-PRO', quantity: 120, unit: 'seat', unitPrice: 50, termMonths: 1 },
        { productCode: 'SB-ENT', quantity: 15, unit: 'seat', unitPrice: 15, termMonths: 1 },
      ],
    });
    expect(orderRequestSchema.safeParse(result.order).success).toBe(true);
  });

  it('the Order example as published names every problem: type, currency, products — without personal data', () => {
    const result = normaliseSaashopOrder(ublExample('UBL-Order-2.1-Example.xml'), settings);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      { code: 'MALFORMED_ORDER', field: 'orderTypeCode', message: 'is required' },
      {
        code: 'UNSUPPORTED_CURRENCY',
        field: 'documentCurrencyCode',
        message: '"SEK" is not sold on SaaShop (supported: USD, EUR, GBP)',
      },
      {
        code: 'UNKNOWN_PRODUCT',
        field: 'documentLines.0.lineItem.item.sellersItemIdentification.id',
        message: 'unknown product code "SItemNo001"',
      },
      {
        code: 'UNKNOWN_PRODUCT',
        field: 'documentLines.1.lineItem.item.sellersItemIdentification.id',
        message: 'unknown product code "SItemNo011"',
      },
    ]);
    expect(result.code).toBe('MALFORMED_ORDER');
    for (const personal of ['Johnsson', 'pelle@', 'Rådhusgatan', 'Svensson', 'Stockholm', '123456'])
      expect(result.reason).not.toContain(personal);
  });

  it.each(UBL_EXAMPLES.filter((n) => n !== 'UBL-Order-2.1-Example.xml'))(
    '%s refers to an earlier order: unsupported, never guessed at',
    (name) => {
      const result = normaliseSaashopOrder(ublExample(name), settings);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe('UNSUPPORTED_DOCUMENT');
      expect(result.problems).toHaveLength(1);
    },
  );
});

describe('sample orders (events/saashop/orders)', () => {
  const dir = join(repoRoot, 'events/saashop/orders');
  const samples = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({
      name: f,
      order: { orderId: `sample-${f}`, ...JSON.parse(readFileSync(join(dir, f), 'utf8')) },
    }));
  const expected: Record<string, string | 'ok'> = {
    'valid-purchase.json': 'ok',
    'valid-trial.json': 'ok',
    // Screening refuses it later; as an order it is well formed.
    'restricted-buyer.json': 'ok',
    'missing-buyer-address.json': 'MISSING_BUYER_ADDRESS',
    'bad-unknown-product.json': 'UNKNOWN_PRODUCT',
    'bad-currency.json': 'UNSUPPORTED_CURRENCY',
  };

  it('every sample has an expected outcome', () => {
    expect(samples.map((s) => s.name).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(samples)('$name', ({ name, order }) => {
    const result = normaliseSaashopOrder(order, settings);
    if (expected[name] === 'ok') {
      expect(result.ok ? [] : result.problems).toEqual([]);
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.code).toBe(expected[name]);
    }
  });

  it('maps a trial with a storage line in UN/ECE gigabytes', () => {
    const trial = samples.find((s) => s.name === 'valid-trial.json')!.order;
    const result = normaliseSaashopOrder(trial, settings);
    expect(result.ok && result.order).toMatchObject({
      orderType: 'Trial',
      currency: 'USD',
      sellTo: { address: { line1: 'Pine Street 200', city: 'Seattle', region: 'WA', country: 'US' } },
      lines: [
        { productCode: 'SB-ENT', quantity: 5, unit: 'seat', unitPrice: 0, termMonths: 1 },
        { productCode: 'SB-STORAGE', quantity: 200, unit: 'GB', termMonths: 1 },
      ],
    });
  });
});

describe('orders the sandbox generates', () => {
  it('normalise, whatever the random buyer, country and product', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const sandbox = new SaashopSandbox(sandboxContext('saashop', { random }));
    for (let i = 0; i < 200; i++) {
      const order = sandbox.generateOrder(i % 3 === 0 ? { buyerCountry: 'JP', productCode: 'SB-API' } : {});
      const result = normaliseSaashopOrder(order, settings);
      expect(result.ok ? [] : result.problems, `generated order ${i}`).toEqual([]);
    }
  });
});

describe('what the normaliser refuses', () => {
  const valid = (): Json => ({
    orderId: 'b3a9c1e2-0000-4000-8000-000000000001',
    ...JSON.parse(readFileSync(join(repoRoot, 'events/saashop/orders/valid-purchase.json'), 'utf8')),
  });
  const codesOf = (order: unknown) => {
    const r = normaliseSaashopOrder(order, settings);
    return r.ok ? [] : r.problems.map((p) => `${p.code} ${p.field}`);
  };

  it('refuses what is not an order object', () => {
    for (const v of [null, 'order', 42, [], true]) expect(codesOf(v)).toEqual(['MALFORMED_ORDER (order)']);
  });

  it('names missing and mistyped fields', () => {
    const o = valid();
    delete o.issueDate;
    o.documentLines = 'one line';
    o.validityPeriod = '12 months';
    delete o.sellerSupplierParty;
    expect(codesOf(o)).toEqual([
      'MALFORMED_ORDER issueDate',
      'MALFORMED_ORDER validityPeriod',
      'MALFORMED_ORDER sellerSupplierParty',
      'MALFORMED_ORDER documentLines',
    ]);
  });

  it('names the buyer contact, the unit and the price that do not fit', () => {
    const o = valid();
    delete o.buyerCustomerParty.party.contact;
    o.documentLines[0].lineItem.quantity = { value: 2.5, unitCode: 'C62' };
    o.documentLines.push({
      lineItem: {
        quantity: { value: 3, unitCode: 'LTR' },
        price: { priceAmount: { value: 1, currencyID: 'USD' } },
        item: { sellersItemIdentification: { id: 'SB-ENT' } },
      },
    });
    expect(codesOf(o)).toEqual([
      'MISSING_BUYER_CONTACT buyerCustomerParty.party.contact.electronicMail',
      'MALFORMED_ORDER documentLines.0.lineItem.quantity',
      'UNSUPPORTED_UNIT documentLines.1.lineItem.quantity.unitCode',
    ]);
  });

  it('refuses an order type it does not sell and a line priced in another currency', () => {
    const o = valid();
    o.orderTypeCode = 'Subscription';
    o.documentLines[0].lineItem.price.priceAmount.currencyID = 'USD';
    expect(codesOf(o)).toEqual([
      'UNSUPPORTED_ORDER_TYPE orderTypeCode',
      'UNSUPPORTED_CURRENCY documentLines.0.lineItem.price.priceAmount.currencyID',
    ]);
  });

  it('reports the order contract’s own refusals on the UBL path (an invalid e-mail)', () => {
    const o = valid();
    o.buyerCustomerParty.party.contact.electronicMail = 'not-an-address';
    const r = normaliseSaashopOrder(o, settings);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual([
        {
          code: 'INVALID_ORDER',
          field: 'buyerCustomerParty.party.contact.electronicMail',
          message: expect.any(String),
        },
      ]);
      expect(r.reason).not.toContain('not-an-address');
    }
  });

  it('never throws, whatever JSON it is given (and mutations of a valid order)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = normaliseSaashopOrder(v, settings);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
    const paths = [
      ['buyerCustomerParty'],
      ['buyerCustomerParty', 'party'],
      ['buyerCustomerParty', 'party', 'postalAddress'],
      ['documentLines'],
      ['documentLines', 0, 'lineItem'],
      ['documentLines', 0, 'lineItem', 'quantity'],
      ['documentLines', 0, 'lineItem', 'item'],
      ['documentCurrencyCode'],
      ['validityPeriod'],
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
        const o = valid();
        let at: any = o;
        for (const p of path.slice(0, -1)) at = at[p];
        at[path.at(-1)!] = value;
        const r = normaliseSaashopOrder(o, settings);
        if (r.ok) expect(orderRequestSchema.safeParse(r.order).success).toBe(true);
        else expect(r.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('does not mutate its input', () => {
    const o = valid();
    const before = clone(o);
    normaliseSaashopOrder(o, settings);
    expect(o).toEqual(before);
  });
});
