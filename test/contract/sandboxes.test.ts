import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ZUORA_USAGE_COLUMNS } from '../../functions/usage-billing/zuora-usage.ts';
import { createAppDirectSandbox } from '../../local/sandboxes/appdirect.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from '../../local/sandboxes/appdirect-credentials.ts';
import { LOCAL_SALESFORCE_CREDENTIALS } from '../../local/sandboxes/order-credentials.ts';
import { createSaashopSandbox, LOCAL_SAASHOP_CREDENTIALS } from '../../local/sandboxes/saashop.ts';
import { createSalesforceSandbox } from '../../local/sandboxes/salesforce.ts';
import { createScreeningSandbox, LOCAL_SCREENING_CREDENTIALS } from '../../local/sandboxes/screening.ts';
import { createZuoraSandbox, LOCAL_ZUORA_CREDENTIALS } from '../../local/sandboxes/zuora/index.ts';
import { parseUsageCsv, ZUORA_USAGE_REQUIRED_COLUMNS } from '../../local/sandboxes/zuora/usage.ts';
import { DEMO_LIST_PATH } from '../../local/screening/demo-list.ts';
import { signRequest } from '../../shared/clients/appdirect-oauth1.ts';
import { catalogue } from '../../shared/orders/catalogue.ts';
import { readReferenceJson, referencePath } from '../helpers/reference.ts';
import { sandboxContext, sandboxFetch } from '../helpers/sandbox-fetch.ts';

/**
 * The partner sandboxes must answer in the shapes of the partners' own published samples
 * (`../shared/reference/data/`): every key of the reference is present with the same JSON type
 * (`null` in a reference accepts any type; arrays compare their first elements). Extra keys are
 * allowed — real APIs add fields too — but a missing or retyped key is what breaks a real client.
 */
type Json = unknown;

const kind = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Differences between `actual` and the shape of `reference`, as readable paths. */
export function shapeDiff(actual: Json, reference: Json, path = '$'): string[] {
  if (reference === null) return [];
  if (kind(actual) !== kind(reference))
    return [`${path}: ${kind(actual)} where the reference has ${kind(reference)}`];
  if (Array.isArray(reference)) {
    const a = actual as Json[];
    if (reference.length === 0 || a.length === 0) return [];
    return shapeDiff(a[0], reference[0], `${path}[0]`);
  }
  if (kind(reference) === 'object') {
    const a = actual as Record<string, Json>;
    return Object.entries(reference as Record<string, Json>).flatMap(([k, v]) =>
      k in a ? shapeDiff(a[k], v, `${path}.${k}`) : [`${path}.${k}: missing`],
    );
  }
  return [];
}

interface ZuoraSamples {
  samples: Array<{ section: string; json: Json }>;
}
const zuoraSample = (file: string, section = 'Response samples', index = 0) => {
  const found = readReferenceJson<ZuoraSamples>('data/zuora', file).samples.filter(
    (s) => s.section === section,
  );
  if (!found[index]) throw new Error(`no ${section} #${index} in ${file}`);
  return found[index].json;
};
const zuoraErrorSample = () =>
  readReferenceJson<{ blocks: Array<{ json: Json }> }>('data/zuora/docs_guides_error-handling.fenced.json')
    .blocks[0]!.json;

async function call(f: typeof fetch, url: string, init: RequestInit = {}) {
  const res = await f(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

describe('shapeDiff (the comparison itself)', () => {
  it('reports missing and retyped keys, accepts extra keys and null references', () => {
    expect(shapeDiff({ a: 1, b: 'x', c: [{ d: true }] }, { a: 1, b: null, c: [{ d: false }] })).toEqual([]);
    expect(shapeDiff({ a: '1', c: [{}] }, { a: 1, b: 2, c: [{ d: true }] })).toEqual([
      '$.a: string where the reference has number',
      '$.b: missing',
      '$.c[0].d: missing',
    ]);
  });
});

describe('SaaShop sandbox', () => {
  /**
   * The seed (`seeds/saashop-marketplace-api.txt`) prints its JSON samples as bullet lists: each
   * `{ … }` block at the start of a line, one `• "key": value` per top-level key, nested values
   * folded to `{ }` / `[ ]`. Read back as reference shapes: [order, events page, posted event,
   * error, order model, events model].
   */
  const seedSamples = (() => {
    const lines = readFileSync(referencePath('seeds/saashop-marketplace-api.txt'), 'utf8').split('\n');
    const blocks: Array<Record<string, Json>> = [];
    let current: Record<string, Json> | undefined;
    lines.forEach((line, i) => {
      if (line === '{') current = {};
      else if (line === '}' && current) {
        blocks.push(current);
        current = undefined;
      } else if (current) {
        const m = /^ {2}\u2022 "(\w+)":\s*(.*?),?$/.exec(line);
        if (!m) return;
        const raw = m[2]!;
        const next = raw || (lines[i + 1] ?? '').trim();
        current[m[1]!] = next.startsWith('{')
          ? {}
          : next.startsWith('[')
            ? []
            : next.startsWith('"')
              ? ''
              : next === 'true' || next === 'false'
                ? false
                : Number(next);
      }
    });
    return blocks;
  })();
  const [orderSample, pageSample, postedSample, errorSample, orderModel, pageModel] = seedSamples;
  const reference = readReferenceJson<{ samples: Array<{ json: { marketplaceEvents: Json[] } }> }>(
    'data/saashop/marketplace-events.samples.json',
  );

  const setup = async () => {
    const sandbox = createSaashopSandbox(sandboxContext('saashop'));
    const f = sandboxFetch(sandbox);
    const base = sandbox.ctx.baseUrl;
    const rid = () => ({ 'x-request-id': randomUUID() });
    const basic = Buffer.from(
      `${LOCAL_SAASHOP_CREDENTIALS.clientId}:${LOCAL_SAASHOP_CREDENTIALS.clientSecret}`,
    ).toString('base64');
    const token = await call(f, `${base}/auth/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, ...rid() },
    });
    const auth = () => ({ authorization: `Bearer ${token.body?.accessToken}`, ...rid() });
    const publish = async (body: unknown = {}) =>
      call(f, `${base}/_orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    return { sandbox, f, base, token, auth, rid, publish };
  };

  it('reads six samples from the seed (the parser is live)', () => {
    expect(seedSamples).toHaveLength(6);
    expect(orderSample).toMatchObject({ orderId: '', validityPeriod: {}, documentLines: [] });
    expect(pageSample).toEqual({ hasMore: false, marketplaceEvents: [] });
    expect(postedSample).toMatchObject({ eventTime: expect.any(Number), additionalProperties: [] });
    expect(errorSample).toEqual({ errorCode: '', description: '', detailedDescription: '' });
  });

  it('issues a bearer token for the seller credentials (201) and refuses others', async () => {
    const { token, f, base, rid } = await setup();
    expect(token.status).toBe(201);
    expect(shapeDiff(token.body, { accessToken: '', tokenType: '', expiresIn: 0 })).toEqual([]);
    const bad = await call(f, `${base}/auth/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('x:y').toString('base64')}`, ...rid() },
    });
    expect(bad.status).toBe(401);
    expect(shapeDiff(bad.body, errorSample)).toEqual([]);
  });

  it('serves the event feed in the shape of the seed and of SaaShop’s own samples, paged by offset/limit', async () => {
    const { f, base, auth, publish } = await setup();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await publish()).body);
    const first = await call(f, `${base}/lead/v1/marketplaceEvents?offset=0&limit=2`, { headers: auth() });
    expect(first.status).toBe(200);
    expect(shapeDiff(first.body, pageModel)).toEqual([]);
    for (const sample of reference.samples) expect(shapeDiff(first.body, sample.json)).toEqual([]);
    expect(first.body.hasMore).toBe(true);
    expect(first.body.marketplaceEvents.map((e: any) => e.eventId)).toEqual([ids[0].eventId, ids[1].eventId]);
    expect(first.body.marketplaceEvents[0].additionalProperties).toEqual([
      expect.objectContaining({ name: 'orderId', value: ids[0].orderId }),
    ]);
    const rest = await call(f, `${base}/lead/v1/marketplaceEvents?offset=2&limit=2`, { headers: auth() });
    expect(rest.body).toMatchObject({ hasMore: false, marketplaceEvents: [{ eventId: ids[2].eventId }] });
    const bad = await call(f, `${base}/lead/v1/marketplaceEvents?limit=500`, { headers: auth() });
    expect(bad.status).toBe(400);
    expect(shapeDiff(bad.body, errorSample)).toEqual([]);
  });

  it('serves orders with every key of the seed’s order samples; an unknown order is a 404', async () => {
    const { f, base, auth, publish } = await setup();
    const { orderId } = (
      await publish({ buyerName: 'Contoso Ltd', buyerCountry: 'DE', productCode: 'SB-ENT' })
    ).body;
    const order = await call(f, `${base}/lead/v1/orders/${orderId}`, { headers: auth() });
    expect(order.status).toBe(200);
    expect(shapeDiff(order.body, orderSample)).toEqual([]);
    expect(shapeDiff(order.body, orderModel)).toEqual([]);
    expect(order.body.orderId).toBe(orderId);
    expect(order.body.buyerCustomerParty.party.partyName.name).toBe('Contoso Ltd');
    expect(order.body.buyerCustomerParty.party.postalAddress.country.identificationCode).toBe('DE');
    expect(order.body.documentLines[0].lineItem.item.sellersItemIdentification.id).toBe('SB-ENT');
    const missing = await call(f, `${base}/lead/v1/orders/${randomUUID()}`, { headers: auth() });
    expect(missing.status).toBe(404);
    expect(shapeDiff(missing.body, errorSample)).toEqual([]);
  });

  it('accepts the seed’s posted event (201) and records it; refuses a body without its required fields', async () => {
    const { sandbox, f, base, auth, publish } = await setup();
    const { orderId } = (await publish()).body;
    const headers = { ...auth(), 'content-type': 'application/json' };
    const event = {
      eventId: randomUUID(),
      eventTypeCode: 'ServicePurchased',
      statusCode: 'ProvisioningCompleted',
      eventTime: 1_795_000_000,
      description: 'Provisioning has been completed',
      detailedDescription: 'Provisioning has been completed',
      additionalProperties: [{ name: 'orderId', value: orderId }],
    };
    expect(shapeDiff(event, postedSample)).toEqual([]);
    const ok = await call(f, `${base}/lead/v1/marketplaceEvents`, {
      method: 'POST',
      headers,
      body: JSON.stringify(event),
    });
    expect(ok.status).toBe(201);
    expect(sandbox.records.filter((r) => r.kind === 'marketplaceEvent.posted')).toEqual([
      expect.objectContaining({ orderId, statusCode: 'ProvisioningCompleted', eventId: event.eventId }),
    ]);
    // The same event posted again (a lost answer, a crash before the hub recorded it) is one event.
    const again = await call(f, `${base}/lead/v1/marketplaceEvents`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    expect(again.status).toBe(201);
    expect(sandbox.records.filter((r) => r.kind === 'marketplaceEvent.posted')).toHaveLength(1);
    expect(sandbox.records.filter((r) => r.kind === 'marketplaceEvent.repeated')).toEqual([
      expect.objectContaining({ eventId: event.eventId }),
    ]);
    const { description: _d, ...incomplete } = event;
    const bad = await call(f, `${base}/lead/v1/marketplaceEvents`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(incomplete),
    });
    expect(bad.status).toBe(400);
    expect(shapeDiff(bad.body, errorSample)).toEqual([]);
    expect(bad.body.detailedDescription).toContain('description');
    const text = await call(f, `${base}/lead/v1/marketplaceEvents`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(text.status).toBe(415);
  });

  it('requires a bearer token and a fresh UUID X-Request-ID on every call', async () => {
    const { f, base, auth } = await setup();
    const feed = `${base}/lead/v1/marketplaceEvents`;
    expect((await call(f, feed, { headers: { 'x-request-id': randomUUID() } })).status).toBe(401);
    const { 'x-request-id': _r, ...noId } = auth();
    expect((await call(f, feed, { headers: noId })).status).toBe(400);
    const once = auth();
    expect((await call(f, feed, { headers: once })).status).toBe(200);
    const reused = await call(f, feed, { headers: once });
    expect(reused.status).toBe(400);
    expect(reused.body.detailedDescription).toContain('X-Request-ID');
  });

  it('POST /_orders: {} publishes a generated valid order; the shortcuts override buyer and line; faults never apply', async () => {
    const { sandbox, publish } = await setup();
    sandbox.faults = { ...sandbox.faults, errorRate: 1 };
    const generated = await publish({});
    expect(generated.status).toBe(201);
    expect(Object.keys(generated.body).sort()).toEqual(['eventId', 'orderId']);
    expect(generated.body.orderId).toMatch(/^[0-9a-f-]{36}$/);
    const shortcut = await publish({
      buyerName: 'Zenith Orbital Systems',
      buyerCountry: 'CN',
      productCode: 'SB-NOPE',
    });
    const order = sandbox.state.orders[shortcut.body.orderId] as any;
    expect(order.buyerCustomerParty.party.partyName.name).toBe('Zenith Orbital Systems');
    expect(order.buyerCustomerParty.party.postalAddress.country.identificationCode).toBe('CN');
    expect(order.documentLines[0].lineItem.item.sellersItemIdentification.id).toBe('SB-NOPE');
    const full = await publish({ ...order, orderId: 'c0ffee00-0000-4000-8000-000000000001' });
    expect(full.body.orderId).toBe('c0ffee00-0000-4000-8000-000000000001');
    expect((await publish({ buyerCountry: 'XX' })).status).toBe(400);
    expect((await publish([])).status).toBe(400);
    expect(sandbox.state.feed).toHaveLength(3);
  });
});

describe('Zuora sandbox', () => {
  const setup = async () => {
    const sandbox = createZuoraSandbox(sandboxContext('zuora'));
    const f = sandboxFetch(sandbox);
    const base = sandbox.ctx.baseUrl;
    const token = await call(f, `${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: LOCAL_ZUORA_CREDENTIALS.clientId,
        client_secret: LOCAL_ZUORA_CREDENTIALS.clientSecret,
      }).toString(),
    });
    const auth = { authorization: `Bearer ${token.body?.access_token}` };
    return { sandbox, f, base, token, auth };
  };
  const product = Object.values(catalogue)[0]!;
  const orderBody = (name: string) => ({
    orderDate: '2026-11-23',
    newAccount: {
      name,
      currency: 'EUR',
      billCycleDay: 1,
      billToContact: { firstName: 'Sam', lastName: 'Sample', country: 'France' },
    },
    subscriptions: [
      {
        orderActions: [
          {
            type: 'CreateSubscription',
            createSubscription: {
              subscribeToRatePlans: [{ productRatePlanId: product.zuora.productRatePlanId }],
            },
          },
        ],
      },
    ],
  });

  it('POST /oauth/token answers with the createToken sample shape', async () => {
    const { token } = await setup();
    expect(token.status).toBe(200);
    expect(
      shapeDiff(token.body, zuoraSample('v1-api-reference_api_operation_createtoken.samples.json')),
    ).toEqual([]);
    expect(token.body.token_type).toBe('bearer');
  });

  it('POST /v1/orders answers success and error bodies in the reference shapes', async () => {
    const { f, base, auth } = await setup();
    const headers = { ...auth, 'content-type': 'application/json' };
    const ok = await call(f, `${base}/v1/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify(orderBody('Example Shop SAS')),
    });
    expect(ok.status).toBe(200);
    expect(shapeDiff(ok.body, zuoraSample('v1-api-reference_api_operation_post_order.samples.json'))).toEqual(
      [],
    );
    expect(ok.body.orderNumber).toMatch(/^O-\d{8}$/);

    const refused = await call(f, `${base}/v1/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...orderBody('Example Shop SAS'), orderDate: undefined }),
    });
    // Business failures are HTTP 200 with success false, like Zuora.
    expect(refused.status).toBe(200);
    expect(shapeDiff(refused.body, zuoraErrorSample())).toEqual([]);
    expect(refused.body.success).toBe(false);
    expect(String(refused.body.reasons[0].code)).toMatch(/^\d{8}$/);

    const malformed = await call(f, `${base}/v1/orders`, { method: 'POST', headers, body: '{' });
    expect(malformed.status).toBe(400);
    expect(shapeDiff(malformed.body, zuoraErrorSample())).toEqual([]);
  });

  it('replays the first result of an idempotency key with its status (not 409), creating nothing more', async () => {
    const { sandbox, f, base, auth } = await setup();
    const init = {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'ord_contract_1' },
      body: JSON.stringify(orderBody('Replay Shop SARL')),
    };
    const first = await call(f, `${base}/v1/orders`, init);
    const again = await call(f, `${base}/v1/orders`, init);
    expect(first.status).toBe(200);
    expect(again).toEqual(first);
    expect(sandbox.records.filter((r) => r.kind === 'order.created')).toHaveLength(1);
  });

  it('usage import and its status answer in the reference shapes', async () => {
    const { f, base, auth } = await setup();
    const csv = [
      'ACCOUNT_ID,UOM,QTY,STARTDATE,ENDDATE,PRODUCT_RATE_PLAN_CHARGE_ID,SUBSCRIPTION_ID,CHARGE_ID,DESCRIPTION',
      'A00000001,Minutes,42.5,11/01/2026,11/30/2026,,A-S00000001,C-00000001,contract test',
    ].join('\n');
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'usub_contract.csv');
    const upload = await call(f, `${base}/v1/usage`, { method: 'POST', headers: auth, body: form });
    expect(upload.status).toBe(200);
    expect(
      shapeDiff(upload.body, zuoraSample('v1-api-reference_api_operation_post_usage.samples.json')),
    ).toEqual([]);
    expect(upload.body.checkImportStatus).toMatch(/^\/v1\/usage\/[^/]+\/status$/);

    let status = await call(f, `${base}${upload.body.checkImportStatus}`, { headers: auth });
    for (let i = 0; i < 3 && status.body?.importStatus !== 'Completed'; i++) {
      status = await call(f, `${base}${upload.body.checkImportStatus}`, { headers: auth });
    }
    expect(status.status).toBe(200);
    // GET /v1/usage/{import-id}/status: {importStatus, message, success}.
    expect(shapeDiff(status.body, { importStatus: 'Completed', message: '', success: true })).toEqual([]);
    expect(status.body.importStatus).toBe('Completed');

    const query = await call(f, `${base}/v1/action/query`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ queryString: "select Id, Status from Import where Name = 'usub_contract.csv'" }),
    });
    expect(query.status).toBe(200);
    expect(query.body.size).toBe(1);
    const importObject = zuoraSample(
      'v1-api-reference_api_operation_object_getimport.samples.json',
    ) as Record<string, Json>;
    const record = query.body.records[0] as Record<string, Json>;
    // A ZOQL record holds a subset of the Import object's fields, each with the object's type.
    for (const [k, v] of Object.entries(record)) {
      expect(k in importObject, `Import has no field ${k}`).toBe(true);
      expect(kind(v)).toBe(kind(importObject[k]));
    }
    expect(record.Status).toBe('Completed');
  });

  it('the usage file columns Zuora requires (usage-file-format.md) are required by the sandbox and written by the client', () => {
    const doc = readFileSync(referencePath('data/zuora/usage-file-format.md'), 'utf8');
    const required = [...doc.matchAll(/^\| ([A-Z_]+) \|(.*)$/gm)]
      .filter(([, , text]) => /Required\? Yes|column header is required/.test(text!))
      .map(([, column]) => column!);
    expect(required).toEqual(
      expect.arrayContaining([
        'ACCOUNT_ID',
        'UOM',
        'QTY',
        'STARTDATE',
        'ENDDATE',
        'PRODUCT_RATE_PLAN_CHARGE_ID',
      ]),
    );
    expect([...ZUORA_USAGE_REQUIRED_COLUMNS]).toEqual(expect.arrayContaining(required));
    expect([...ZUORA_USAGE_COLUMNS]).toEqual(expect.arrayContaining(required));
    const withoutOne =
      'ACCOUNT_ID,UOM,QTY,STARTDATE,ENDDATE,SUBSCRIPTION_ID,CHARGE_ID,DESCRIPTION\r\nA1,Minutes,1,11/01/2026,,,,x\r\n';
    expect(parseUsageCsv(withoutOne, 'MM/DD/YYYY').error).toMatch(/PRODUCT_RATE_PLAN_CHARGE_ID/);
  });

  it('an unauthenticated call answers 401 with the error shape', async () => {
    const { f, base } = await setup();
    const res = await call(f, `${base}/v1/orders`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(shapeDiff(res.body, { success: false, reasons: [{ code: 1, message: '' }] })).toEqual([]);
  });
});

describe('Salesforce sandbox', () => {
  const setup = async () => {
    const sandbox = createSalesforceSandbox(sandboxContext('salesforce'));
    const f = sandboxFetch(sandbox);
    const base = sandbox.ctx.baseUrl;
    const token = await call(f, `${base}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: LOCAL_SALESFORCE_CREDENTIALS.clientId,
        client_secret: LOCAL_SALESFORCE_CREDENTIALS.clientSecret,
      }).toString(),
    });
    const headers = {
      authorization: `Bearer ${token.body?.access_token}`,
      'content-type': 'application/json',
    };
    return { f, base, token, headers };
  };
  const success = readReferenceJson('data/salesforce/sobject-create-success.response.json');
  const errorArray = readReferenceJson('data/salesforce/sobject-create-invalid-field.error-response.json');
  const sub = (referenceId: string, sobject: string, body: Record<string, unknown>) => ({
    method: 'PATCH',
    url: `/services/data/v62.0/sobjects/${sobject}/Switchboard_Order_Id__c/ord_contract_${referenceId}`,
    referenceId,
    body,
  });

  it('the token carries the six fields of a real token response', async () => {
    const { token } = await setup();
    expect(token.status).toBe(200);
    for (const k of ['access_token', 'id', 'instance_url', 'issued_at', 'signature', 'token_type']) {
      expect(typeof token.body[k], k).toBe('string');
    }
  });

  it('an upsert answers the SaveResult shape with an 18-character id', async () => {
    const { f, base, headers } = await setup();
    const res = await call(
      f,
      `${base}/services/data/v62.0/sobjects/Contact/Switchboard_Order_Id__c/ord_contract_1`,
      {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ LastName: 'Sample' }),
      },
    );
    expect(res.status).toBe(201);
    expect(shapeDiff(res.body, success)).toEqual([]);
    expect(res.body.id).toMatch(/^003[0-9A-Za-z]{15}$/);
  });

  it('errors are a JSON array of {message, errorCode}, at top level and inside composite', async () => {
    const { f, base, headers } = await setup();
    const top = await call(
      f,
      `${base}/services/data/v62.0/sobjects/Contact/Switchboard_Order_Id__c/ord_contract_2`,
      {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ FirstName: 'NoLastName' }),
      },
    );
    expect(top.status).toBe(400);
    expect(Array.isArray(top.body)).toBe(true);
    expect(shapeDiff(top.body, errorArray)).toEqual([]);

    const composite = await call(f, `${base}/services/data/v62.0/composite`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        allOrNone: true,
        compositeRequest: [
          sub('contact', 'Contact', { LastName: 'Sample' }),
          sub('opp', 'Opportunity', { Name: 'Contract test' }),
        ],
      }),
    });
    expect(composite.status).toBe(200);
    const [first, second] = composite.body.compositeResponse;
    for (const r of composite.body.compositeResponse) {
      expect(shapeDiff(r, { body: null, httpHeaders: {}, httpStatusCode: 200, referenceId: '' })).toEqual([]);
      expect(shapeDiff(r.body, errorArray)).toEqual([]);
    }
    expect(first.body[0].errorCode).toBe('PROCESSING_HALTED');
    expect(second.body[0].errorCode).toBe('REQUIRED_FIELD_MISSING');
  });

  it('without allOrNone every subrequest answers: independent ones still run, dependent ones halt', async () => {
    const { f, base, headers } = await setup();
    const composite = await call(f, `${base}/services/data/v62.0/composite`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        allOrNone: false,
        compositeRequest: [
          sub('opp', 'Opportunity', { Name: 'No stage' }),
          sub('quote', 'Quote', { Name: 'Q', OpportunityId: '@{opp.id}' }),
          sub('contact', 'Contact', { LastName: 'Sample' }),
        ],
      }),
    });
    expect(composite.status).toBe(200);
    const answers = composite.body.compositeResponse as Array<{ httpStatusCode: number; body: any }>;
    expect(answers.map((a) => a.httpStatusCode)).toEqual([400, 400, 201]);
    expect(answers[0]!.body[0].errorCode).toBe('REQUIRED_FIELD_MISSING');
    expect(answers[1]!.body[0].errorCode).toBe('PROCESSING_HALTED');
    expect(shapeDiff(answers[2]!.body, success)).toEqual([]);
  });

  it('a successful composite carries one SaveResult per subrequest', async () => {
    const { f, base, headers } = await setup();
    const composite = await call(f, `${base}/services/data/v62.0/composite`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        allOrNone: true,
        compositeRequest: [
          sub('contact', 'Contact', { LastName: 'Sample' }),
          sub('opp', 'Opportunity', {
            Name: 'Contract test',
            StageName: 'Prospecting',
            CloseDate: '2026-12-31',
          }),
        ],
      }),
    });
    expect(composite.status).toBe(200);
    expect(composite.body.compositeResponse).toHaveLength(2);
    for (const r of composite.body.compositeResponse) {
      expect(r.httpStatusCode).toBe(201);
      expect(shapeDiff(r.body, success)).toEqual([]);
    }
  });
});

const unknownErrorShape = readReferenceJson('data/appdirect/results/unknown_error.json');

describe('AppDirect sandbox', () => {
  const setup = async () => {
    const sandbox = createAppDirectSandbox(sandboxContext('appdirect'));
    const f = sandboxFetch(sandbox);
    const base = sandbox.ctx.baseUrl;
    const token = await call(f, `${base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: LOCAL_APPDIRECT_CREDENTIALS.clientId,
        client_secret: LOCAL_APPDIRECT_CREDENTIALS.clientSecret,
        scope: 'ROLE_PARTNER',
      }).toString(),
    });
    const headers = {
      authorization: `Bearer ${token.body?.access_token}`,
      'content-type': 'application/json',
    };
    return { f, base, headers };
  };
  const usage = (idempotencyKey: string, accountId?: string) => ({
    idempotencyKey,
    billable: true,
    usages: [
      {
        ...(accountId ? { accountId } : {}),
        usageList: [
          { eventId: 'e1', eventDate: '2026-11-23T10:00:00Z', customUnit: 'GIGABYTE', quantity: '3' },
        ],
      },
    ],
  });
  const unknownError = readReferenceJson('data/appdirect/results/unknown_error.json');

  it('accepts usage with 202 {requestId, idempotencyKey, queryUsageStatus} and reports its processing', async () => {
    const { f, base, headers } = await setup();
    const res = await call(f, `${base}/api/integration/v2/billing/usage`, {
      method: 'POST',
      headers,
      body: JSON.stringify(usage('usub_contract_1', 'acc-1')),
    });
    expect(res.status).toBe(202);
    expect(shapeDiff(res.body, { requestId: '', idempotencyKey: '', queryUsageStatus: '' })).toEqual([]);
    expect(res.body.queryUsageStatus).toBe(
      `/api/integration/v2/billing/usage/requests/${res.body.requestId}`,
    );
    const status = await call(f, `${base}${res.body.queryUsageStatus}`, { headers });
    expect(status.status).toBe(200);
    expect(status.body.requestId).toBe(res.body.requestId);
  });

  it('refusals carry the result shape {success: false, message, errorCode}', async () => {
    const { f, base, headers } = await setup();
    const bad = await call(f, `${base}/api/integration/v2/billing/usage`, {
      method: 'POST',
      headers,
      body: JSON.stringify(usage('usub_contract_2')),
    });
    expect(bad.status).toBe(400);
    expect(shapeDiff(bad.body, unknownError)).toEqual([]);
    expect(bad.body).toMatchObject({ success: false, errorCode: 'BAD_REQUEST' });
    expect(bad.body.message).toContain('accountId');

    const body = JSON.stringify(usage('usub_contract_3', 'acc-1'));
    expect(
      (await call(f, `${base}/api/integration/v2/billing/usage`, { method: 'POST', headers, body })).status,
    ).toBe(202);
    const dup = await call(f, `${base}/api/integration/v2/billing/usage`, { method: 'POST', headers, body });
    expect(dup.status).toBe(409);
    expect(shapeDiff(dup.body, unknownError)).toEqual([]);
  });
});

describe('AppDirect marketplace sandbox (ISV connector protocol)', () => {
  const fixtures = readdirSync(referencePath('data/appdirect')).filter((f) => f.endsWith('.json'));
  const samplesDir = new URL('../../events/appdirect/', import.meta.url);

  it('has a sample of its own for every SDK fixture, in the fixture’s shape', () => {
    expect(fixtures).toHaveLength(14);
    for (const file of fixtures) {
      const sample = JSON.parse(readFileSync(new URL(file, samplesDir), 'utf8'));
      expect(shapeDiff(sample, readReferenceJson('data/appdirect', file)), file).toEqual([]);
    }
  });

  const setup = async () => {
    const sandbox = createAppDirectSandbox(sandboxContext('appdirect'));
    const f = sandboxFetch(sandbox);
    const base = sandbox.ctx.baseUrl;
    // No hub behind this sandbox: the notification goes to a closed loopback port.
    await call(f, `${base}/_config`, {
      method: 'PUT',
      body: JSON.stringify({ notificationUrl: 'http://127.0.0.1:9/v1/channels/appdirect/events' }),
    });
    const emitted = await call(f, `${base}/_emit`, {
      method: 'POST',
      body: JSON.stringify({
        fixture: 'subscription-order',
        payload: { payload: { company: { name: 'Contoso Ltd' } } },
      }),
    });
    const eventUrl = `${base}/api/integration/v1/events/${emitted.body.eventId}`;
    const signed = (method: string, url: string) => ({
      authorization: signRequest({ method, url, credentials: LOCAL_APPDIRECT_CREDENTIALS }),
    });
    return { sandbox, f, emitted, eventUrl, signed };
  };

  it('_emit stores the event and answers {eventId, status, answer}', async () => {
    const { emitted, sandbox } = await setup();
    expect(emitted.status).toBe(200);
    expect(shapeDiff(emitted.body, { eventId: '', status: 0, answer: null })).toEqual([]);
    expect(emitted.body.status).toBe(503);
    expect(sandbox.records.map((r) => r.kind)).toEqual(['event.emitted', 'notification.answered']);
  });

  it('serves the event only to a correctly signed request, in the fixture’s shape, overrides merged', async () => {
    const { f, eventUrl, signed } = await setup();
    expect((await call(f, eventUrl)).status).toBe(401);
    const wrong = signRequest({
      method: 'GET',
      url: eventUrl,
      credentials: { consumerKey: LOCAL_APPDIRECT_CREDENTIALS.consumerKey, consumerSecret: 'wrong' },
    });
    expect((await call(f, eventUrl, { headers: { authorization: wrong } })).status).toBe(401);
    const res = await call(f, eventUrl, { headers: signed('GET', eventUrl) });
    expect(res.status).toBe(200);
    expect(shapeDiff(res.body, readReferenceJson('data/appdirect/subscription-order.json'))).toEqual([]);
    expect(res.body.payload.company.name).toBe('Contoso Ltd');
    expect(res.body.marketplace.baseUrl).toBe(sandboxContext('appdirect').baseUrl);
  });

  it('takes one result per event (the SDK result shapes), recorded as event.result; refusals in its error shape', async () => {
    const { f, eventUrl, signed, sandbox } = await setup();
    const url = `${eventUrl}/result`;
    const success = readReferenceJson('data/appdirect/results/success.json');
    const post = (body: unknown, headers: Record<string, string> = signed('POST', url)) =>
      call(f, url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await post(success, {})).status).toBe(401);
    const bad = await post({ success: false });
    expect(bad.status).toBe(400);
    expect(shapeDiff(bad.body, unknownErrorShape)).toEqual([]);
    expect((await post(success)).status).toBe(200);
    expect((await post(readReferenceJson('data/appdirect/results/unknown_error.json'))).status).toBe(409);
    const results = sandbox.records.filter((r) => r.kind === 'event.result');
    expect(results).toHaveLength(1);
    expect(results[0]!.result).toEqual(success);
  });
});

describe('screening sandbox (trade.gov Consolidated Screening List search)', () => {
  /** Field → JSON kinds seen across every published list: fields like `source_information_url` are null on some lists. */
  const referenceKinds = new Map<string, Set<string>>();
  for (const list of ['sdn', 'dpl', 'el', 'isn', 'uvl', 'dtc', 'ssi', 'fse', 'plc', 'part561', 'eo13599']) {
    for (const entry of readReferenceJson(`data/screening/lists/${list}.json`) as Array<
      Record<string, Json>
    >) {
      for (const [k, v] of Object.entries(entry)) {
        if (!referenceKinds.has(k)) referenceKinds.set(k, new Set());
        referenceKinds.get(k)!.add(kind(v));
      }
    }
  }
  const listCount = new Map<string, number>();
  const lists = ['sdn', 'dpl', 'el', 'isn', 'uvl', 'dtc', 'ssi', 'fse', 'plc', 'part561', 'eo13599'];
  for (const list of lists) {
    const first = (readReferenceJson(`data/screening/lists/${list}.json`) as Array<Record<string, Json>>)[0]!;
    for (const k of Object.keys(first)) listCount.set(k, (listCount.get(k) ?? 0) + 1);
  }
  /** Fields every list has (the others are list-specific, e.g. vessel fields of SDN). */
  const commonFields = [...listCount].filter(([, n]) => n === lists.length).map(([k]) => k);
  // The demo entries are fictional: there is no source page to link, so the sandbox answers null.
  referenceKinds.get('source_information_url')?.add('null');
  const referenceEntry = (readReferenceJson('data/screening/lists/sdn.json') as Json[])[0];
  const demo = JSON.parse(readFileSync(DEMO_LIST_PATH, 'utf8')) as
    | Array<{ name: string }>
    | { results: Array<{ name: string }> };
  const demoEntries = Array.isArray(demo) ? demo : demo.results;

  it('answers {total, offset, sources_used, search_performed_at, results} with reference-shaped entries', async () => {
    const sandbox = createScreeningSandbox(sandboxContext('screening'));
    const f = sandboxFetch(sandbox);
    const name = demoEntries[0]!.name;
    const res = await call(
      f,
      `${sandbox.ctx.baseUrl}/consolidated_screening_list/v1/search?name=${encodeURIComponent(name)}&size=5`,
      { headers: { 'subscription-key': LOCAL_SCREENING_CREDENTIALS.subscriptionKey } },
    );
    expect(res.status).toBe(200);
    expect(
      shapeDiff(res.body, {
        total: 1,
        offset: 0,
        sources_used: [{ source: '', source_last_updated: null, last_imported: '' }],
        search_performed_at: '',
        results: [],
      }),
    ).toEqual([]);
    expect(res.body.results.length).toBeGreaterThan(0);
    for (const entry of res.body.results as Array<Record<string, Json>>) {
      const problems = commonFields.flatMap((k) => {
        const kinds = referenceKinds.get(k)!;
        if (!(k in entry)) return [`${k}: missing`];
        return kinds.has(kind(entry[k]))
          ? []
          : [`${k}: ${kind(entry[k])} where the lists have ${[...kinds].join('|')}`];
      });
      expect(problems).toEqual([]);
      // Nested shapes (addresses, ids) as in the reference's first entry.
      expect(
        shapeDiff(
          { addresses: entry.addresses },
          { addresses: (referenceEntry as Record<string, Json>).addresses },
        ),
      ).toEqual([]);
    }
    expect(res.body.results[0].name).toBe(name);
  });

  it('refuses a missing subscription key with 401 {statusCode, message}', async () => {
    const sandbox = createScreeningSandbox(sandboxContext('screening'));
    const res = await call(
      sandboxFetch(sandbox),
      `${sandbox.ctx.baseUrl}/consolidated_screening_list/v1/search?name=x`,
    );
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, message: expect.stringContaining('subscription key') });
  });
});
