import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SAASHOP_EVENT_TYPES, SAASHOP_STATUS_CODES } from '../../shared/clients/saashop.ts';
import { catalogue } from '../../shared/orders/catalogue.ts';
import { ISO_3166_COUNTRIES } from '../../shared/orders/iso-codes.ts';
import { Sandbox, type SandboxContext, type SandboxRequest, type SandboxResponse } from './kit.ts';
import { LOCAL_SAASHOP_CREDENTIALS } from './saashop-credentials.ts';

export { LOCAL_SAASHOP_CREDENTIALS };

/**
 * SaaShop Marketplace API sandbox (`seeds/saashop-marketplace-api.txt`, shapes of
 * `data/saashop/`):
 * - `POST /auth/v1/tokens` (HTTP Basic) → 201 `{accessToken, tokenType, expiresIn}` (30 minutes);
 * - `GET /lead/v1/marketplaceEvents?offset=&limit=` → `{hasMore, marketplaceEvents}` from a feed in
 *   publication order (limit 1–100, default 50);
 * - `GET /lead/v1/orders/{orderId}` → the order in UBL 2.1 JSON;
 * - `POST /lead/v1/marketplaceEvents` → 201; recorded as `marketplaceEvent.posted` with the order id
 *   and status. Bodies are checked as the seed describes them (400 / 404 / 415 otherwise). A
 *   repeated `eventId` is the same event: 201 again, recorded as `marketplaceEvent.repeated`.
 * Every partner call must carry a UUID `X-Request-ID` never used before (400 otherwise), and a
 * bearer token that has not expired (401). Errors use SaaShop's `{errorCode, description,
 * detailedDescription}`.
 *
 * Control (local only, no faults): `POST /_orders` publishes an order and its marketplace event and
 * answers 201 `{orderId, eventId}`. The body is a full SaaShop order, or `{}` for a generated valid
 * one whose buyer and line the shortcuts `buyerName`, `buyerCountry` (ISO alpha-2), `productCode`
 * (and `quantity`, `currency`, `orderTypeCode`) override. Test controls: `eventTypeCode` (the event's
 * type), `answer` `{status, contentType?, body}` (what fetching the order returns instead of it) and
 * `holdFirstFetchMs` (the first fetch is held that long, recorded as `order.fetch.held`).
 * `state.calls` counts the partner calls per operation.
 */

const TOKEN_SECONDS = 30 * 60;
const SELLER_ID = '1042';
/** Request ids remembered to refuse a reuse (in memory: a restart forgets them). */
const REMEMBERED_REQUEST_IDS = 20_000;

interface StoredAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface SaashopState {
  tokens: Record<string, number>;
  feed: Array<Record<string, unknown>>;
  orders: Record<string, Record<string, unknown>>;
  answers: Record<string, StoredAnswer>;
  holds: Record<string, number>;
  calls: { token: number; listEvents: number; getOrder: number; postEvent: number; refused: number };
  [area: string]: unknown;
}

const error = (status: number, errorCode: string, description: string, detailedDescription: string) => ({
  status,
  body: { errorCode, description, detailedDescription },
});

const uuidSchema = z.uuid();

const publishSchema = z
  .object({
    buyerName: z.string().trim().min(1).max(200).optional(),
    buyerCountry: z
      .string()
      .refine((c) => ISO_3166_COUNTRIES.has(c), 'must be an ISO 3166-1 alpha-2 country code')
      .optional(),
    productCode: z.string().trim().min(1).max(100).optional(),
    quantity: z.number().int().positive().max(1_000_000).optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .optional(),
    orderTypeCode: z.string().min(1).max(40).optional(),
    eventTypeCode: z.string().min(1).max(60).optional(),
    answer: z
      .object({
        status: z.number().int().min(100).max(599),
        contentType: z.string().min(1).max(100).optional(),
        body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]),
      })
      .optional(),
    holdFirstFetchMs: z.number().int().min(1).max(600_000).optional(),
  })
  .loose();

const outgoingSchema = z.object({
  eventId: z.uuid(),
  eventTypeCode: z.enum(SAASHOP_EVENT_TYPES),
  statusCode: z.enum(SAASHOP_STATUS_CODES),
  eventTime: z.number().int().optional(),
  description: z.string().min(1),
  detailedDescription: z.string().optional(),
  additionalProperties: z
    .array(z.object({ name: z.string().min(1), value: z.string(), description: z.string().optional() }))
    .optional(),
});

/** Fictional buyers (none is on the screening demo list). */
const COMPANIES = [
  'Contoso Ltd',
  'Fabrikam Inc',
  'Northwind Traders',
  'Tailspin Toys',
  'Wingtip Toys',
  'Adventure Works Cycles',
  'Alpine Ski House',
  'Coho Winery',
  'Fourth Coffee',
  'Lamna Healthcare',
  'Proseware Inc',
  'Trey Research',
  'Woodgrove Bank',
  'Blue Yonder Airlines',
  'Litware Inc',
];
const FIRST = ['Aino', 'Mikko', 'Dana', 'Sam', 'Noor', 'Lena', 'Ravi', 'Chloé', 'Jonas', 'Mei'];
const LAST = ['Virtanen', 'Korhonen', 'Doe', 'Sample', 'Haddad', 'Berg', 'Iyer', 'Martin', 'Weber', 'Chen'];
const PLACES: Record<string, { city: string; postalZone: string; street: string; region?: string }> = {
  US: { city: 'Seattle', postalZone: '98101', street: 'Pine Street', region: 'WA' },
  FI: { city: 'Helsinki', postalZone: '00100', street: 'Mannerheimintie' },
  DE: { city: 'Berlin', postalZone: '10115', street: 'Invalidenstraße' },
  FR: { city: 'Lyon', postalZone: '69002', street: 'Rue de la République' },
  GB: { city: 'Manchester', postalZone: 'M1 1AA', street: 'Market Street' },
  SE: { city: 'Stockholm', postalZone: '11120', street: 'Drottninggatan' },
  CN: { city: 'Shenzhen', postalZone: '518000', street: 'Shennan Avenue' },
  JP: { city: 'Osaka', postalZone: '530-0001', street: 'Umeda' },
};
const COUNTRIES = ['US', 'FI', 'DE', 'FR', 'GB', 'SE'];
const ORDER_TYPE_EVENTS: Record<string, string> = {
  Purchase: 'ServicePurchased',
  Trial: 'Trial',
  Evaluation: 'Evaluation',
};

export class SaashopSandbox extends Sandbox<SaashopState> {
  private readonly requestIds = new Set<string>();

  constructor(ctx: SandboxContext) {
    super('saashop', ctx, () => ({
      tokens: {},
      feed: [],
      orders: {},
      answers: {},
      holds: {},
      calls: { token: 0, listEvents: 0, getOrder: 0, postEvent: 0, refused: 0 },
    }));
    this.route('POST', '/auth/v1/tokens', (req) => this.issueToken(req));
    this.route('GET', '/lead/v1/marketplaceEvents', (req) => this.listEvents(req));
    this.route('GET', '/lead/v1/orders/:orderId', (req) => this.getOrder(req));
    this.route('POST', '/lead/v1/marketplaceEvents', (req) => this.postEvent(req));
  }

  /** The control route bypasses fault injection: a test publishing orders is not the hub calling SaaShop. */
  override async handle(
    req: Omit<SandboxRequest, 'params'>,
    signal?: AbortSignal,
  ): Promise<SandboxResponse | undefined> {
    if (req.path === '/_orders' && req.method === 'POST') return this.publish(req);
    return super.handle(req, signal);
  }

  /** Publishes a SaaShop order and its marketplace event (the local stand-in for a buyer purchasing). */
  publish(req: Pick<SandboxRequest, 'text'>): SandboxResponse {
    let input: unknown;
    try {
      input = JSON.parse(req.text() || '{}');
    } catch {
      return error(400, 'InvalidRequest', 'Invalid request parameters', 'The body is not valid JSON');
    }
    if (!input || typeof input !== 'object' || Array.isArray(input))
      return error(400, 'InvalidRequest', 'Invalid request parameters', 'The body must be a JSON object');
    const parsed = publishSchema.safeParse(input);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return error(400, 'InvalidRequest', 'Invalid request parameters', detail);
    }
    const { answer, holdFirstFetchMs, eventTypeCode, ...rest } = parsed.data;
    const full = ['orderId', 'buyerCustomerParty', 'documentLines', 'documentCurrencyCode'].some(
      (k) => k in rest,
    );
    const order: Record<string, unknown> = full
      ? { ...stripControls(rest as Record<string, unknown>) }
      : this.generateOrder(parsed.data);
    const orderId = typeof order.orderId === 'string' && order.orderId ? order.orderId : randomUUID();
    order.orderId = orderId;
    this.state.orders[orderId] = order;
    if (answer) {
      this.state.answers[orderId] = {
        status: answer.status,
        contentType:
          answer.contentType ?? (typeof answer.body === 'string' ? 'text/html' : 'application/json'),
        body: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body),
      };
    }
    if (holdFirstFetchMs) this.state.holds[orderId] = holdFirstFetchMs;
    const now = this.ctx.clock.now();
    const eventId = randomUUID();
    const type =
      eventTypeCode ?? ORDER_TYPE_EVENTS[String(order.orderTypeCode)] ?? (SAASHOP_EVENT_TYPES[0] as string);
    this.state.feed.push({
      additionalProperties: [
        {
          description: 'Identifier of the order; fetch it with GET /lead/v1/orders/{orderId}.',
          name: 'orderId',
          value: orderId,
        },
      ],
      description: 'A buyer ordered the service',
      detailedDescription: `New ${String(order.orderTypeCode ?? 'Purchase').toLowerCase()} order to provision`,
      eventId,
      eventTime: now.toISOString().replace('Z', '+00:00'),
      eventTypeCode: type,
      seenTime: null,
      sellerId: SELLER_ID,
      statusCode: 'ProvisioningStarted',
    });
    this.changed();
    this.record('order.published', { orderId, eventId, eventTypeCode: type });
    return { status: 201, body: { orderId, eventId } };
  }

  /** A valid order of the catalogue (USD, 12 months), with the shortcuts applied. */
  generateOrder(o: z.infer<typeof publishSchema>): Record<string, unknown> {
    const r = this.ctx.random;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const now = this.ctx.clock.now();
    const start = now.toISOString().slice(0, 10);
    const end = new Date(Date.UTC(now.getUTCFullYear() + 1, now.getUTCMonth(), now.getUTCDate()))
      .toISOString()
      .slice(0, 10);
    const country = o.buyerCountry ?? pick(COUNTRIES);
    const place = PLACES[country] ?? { city: 'Capital City', postalZone: '1000', street: 'Main Street' };
    const company = o.buyerName ?? pick(COMPANIES);
    const first = pick(FIRST);
    const last = pick(LAST);
    const domain =
      company
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || 'buyer';
    const productCode = o.productCode ?? pick(['SB-PRO', 'SB-ENT']);
    const product = catalogue[productCode];
    const quantity = o.quantity ?? 1 + Math.floor(r() * 50);
    const currency = o.currency ?? 'USD';
    const price = product?.productCode === 'SB-ENT' ? 30 : 12.5;
    const amount = (v: number) => ({ value: v, currencyID: currency });
    const unitCode = product && product.units[0] !== 'seat' ? product.units[0]! : 'C62';
    return {
      orderId: randomUUID(),
      issueDate: start,
      issueTime: `${now.toISOString().slice(11, 19)}Z`,
      orderTypeCode: o.orderTypeCode ?? 'Purchase',
      note: 'Order placed on the SaaShop marketplace',
      documentCurrencyCode: currency,
      validityPeriod: { startDate: start, endDate: end },
      buyerCustomerParty: {
        party: {
          partyIdentification: [{ id: `BUYER-${randomBytes(4).toString('hex')}` }],
          partyName: { name: company },
          postalAddress: {
            streetName: place.street,
            buildingNumber: String(1 + Math.floor(r() * 200)),
            cityName: place.city,
            postalZone: place.postalZone,
            ...(place.region ? { countrySubentity: place.region } : {}),
            country: { identificationCode: country },
          },
          partyLegalEntity: { registrationName: company },
          contact: {
            telephone: '+1 555 0100',
            electronicMail: `${ascii(first)}.${ascii(last)}@${domain}.example`,
          },
          person: { firstName: first, familyName: last },
        },
      },
      sellerSupplierParty: {
        party: { partyIdentification: [{ id: SELLER_ID }], partyName: { name: 'Switchboard Software' } },
      },
      anticipatedMonetaryTotal: {
        lineExtensionAmount: amount(price * quantity),
        payableAmount: amount(price * quantity),
      },
      documentLines: [
        {
          lineItem: {
            id: '1',
            quantity: { value: quantity, unitCode },
            lineExtensionAmount: amount(price * quantity),
            price: { priceAmount: amount(price), baseQuantity: { value: 1, unitCode } },
            item: {
              name: product?.name ?? 'Unlisted product',
              description: 'SaaS subscription, 12 months',
              sellersItemIdentification: { id: productCode },
            },
          },
        },
      ],
    };
  }

  /** Checks the headers every partner call needs; undefined when the call may proceed. */
  private gate(req: SandboxRequest, auth: 'basic' | 'bearer'): SandboxResponse | undefined {
    const requestId = req.headers['x-request-id'];
    if (!requestId || !uuidSchema.safeParse(requestId).success) {
      return this.refuse('X-Request-ID header must be a UUID');
    }
    if (this.requestIds.has(requestId))
      return this.refuse('X-Request-ID was already used by an earlier call');
    this.requestIds.add(requestId);
    if (this.requestIds.size > REMEMBERED_REQUEST_IDS) {
      this.requestIds.delete(this.requestIds.values().next().value as string);
    }
    if (auth === 'bearer') {
      const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const expires = token ? this.state.tokens[token] : undefined;
      if (!expires || expires <= this.ctx.clock.now().getTime()) {
        return error(
          401,
          'Unauthorized',
          'Authentication failed',
          'The bearer token is missing, unknown or expired',
        );
      }
    }
    return undefined;
  }

  private refuse(detail: string): SandboxResponse {
    this.state.calls.refused++;
    this.changed();
    this.record('request.refused', { reason: detail });
    return error(400, 'InvalidRequest', 'Invalid request parameters', detail);
  }

  private issueToken(req: SandboxRequest): SandboxResponse {
    this.state.calls.token++;
    const denied = this.gate(req, 'basic');
    if (denied) return denied;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    if (id !== LOCAL_SAASHOP_CREDENTIALS.clientId || secret !== LOCAL_SAASHOP_CREDENTIALS.clientSecret) {
      return error(401, 'Unauthorized', 'Authentication failed', 'Unknown client or wrong secret');
    }
    const now = this.ctx.clock.now().getTime();
    for (const [t, exp] of Object.entries(this.state.tokens)) if (exp <= now) delete this.state.tokens[t];
    const accessToken = randomBytes(24).toString('base64url');
    this.state.tokens[accessToken] = now + TOKEN_SECONDS * 1000;
    this.changed();
    this.record('token.issued', { clientId: id });
    return { status: 201, body: { accessToken, tokenType: 'Bearer', expiresIn: TOKEN_SECONDS } };
  }

  private listEvents(req: SandboxRequest): SandboxResponse {
    this.state.calls.listEvents++;
    this.changed();
    const denied = this.gate(req, 'bearer');
    if (denied) return denied;
    const offset = req.query.has('offset') ? Number(req.query.get('offset')) : 0;
    const limit = req.query.has('limit') ? Number(req.query.get('limit')) : 50;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100) {
      return error(
        400,
        'InvalidRequest',
        'Invalid request parameters',
        'offset must be a non-negative integer and limit an integer from 1 to 100',
      );
    }
    const page = this.state.feed.slice(offset, offset + limit);
    return {
      status: 200,
      body: { hasMore: offset + page.length < this.state.feed.length, marketplaceEvents: page },
    };
  }

  private async getOrder(req: SandboxRequest): Promise<SandboxResponse> {
    this.state.calls.getOrder++;
    this.changed();
    const denied = this.gate(req, 'bearer');
    if (denied) return denied;
    const orderId = req.params.orderId!;
    const order = this.state.orders[orderId];
    if (!order) return error(404, 'NotFound', 'Not found', `No order ${orderId}`);
    const hold = this.state.holds[orderId];
    if (hold) {
      delete this.state.holds[orderId];
      this.changed();
      this.record('order.fetch.held', { orderId, holdMs: hold });
      await new Promise((r) => setTimeout(r, hold));
    }
    this.record('order.fetched', { orderId });
    const answer = this.state.answers[orderId];
    if (answer)
      return { status: answer.status, headers: { 'content-type': answer.contentType }, body: answer.body };
    return { status: 200, body: order };
  }

  private postEvent(req: SandboxRequest): SandboxResponse {
    this.state.calls.postEvent++;
    this.changed();
    const denied = this.gate(req, 'bearer');
    if (denied) return denied;
    if (!(req.headers['content-type'] ?? '').includes('application/json')) {
      return error(415, 'UnsupportedMediaType', 'Unsupported media type', 'Send application/json');
    }
    let body: unknown;
    try {
      body = req.json();
    } catch {
      return error(400, 'InvalidRequest', 'Invalid request parameters', 'The body is not valid JSON');
    }
    const parsed = outgoingSchema.safeParse(body);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return error(400, 'InvalidRequest', 'Invalid request parameters', detail);
    }
    const event = parsed.data;
    const orderId = event.additionalProperties?.find((p) => p.name === 'orderId')?.value ?? null;
    if (orderId !== null && !this.state.orders[orderId]) {
      return error(404, 'NotFound', 'Not found', `No order ${orderId}`);
    }
    // `eventId` is the event's identity ("unique event identifier"): a post repeated after a lost
    // answer or a crash is the same event, acknowledged again and recorded as a repeat.
    if (this.records.some((r) => r.kind === 'marketplaceEvent.posted' && r.eventId === event.eventId)) {
      this.record('marketplaceEvent.repeated', {
        orderId,
        statusCode: event.statusCode,
        eventId: event.eventId,
      });
      return { status: 201, body: { eventId: event.eventId } };
    }
    this.record('marketplaceEvent.posted', {
      orderId,
      statusCode: event.statusCode,
      eventTypeCode: event.eventTypeCode,
      eventId: event.eventId,
      eventTime: event.eventTime ?? null,
      description: event.description,
      detailedDescription: event.detailedDescription ?? null,
      additionalProperties: event.additionalProperties ?? [],
    });
    return { status: 201, body: { eventId: event.eventId } };
  }
}

/** Test controls never become part of a published order. */
function stripControls(order: Record<string, unknown>): Record<string, unknown> {
  const {
    buyerName: _a,
    buyerCountry: _b,
    productCode: _c,
    quantity: _d,
    currency: _e,
    orderTypeCode,
    ...rest
  } = order;
  return { ...rest, ...(orderTypeCode !== undefined ? { orderTypeCode } : {}) };
}

const ascii = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, '')
    .toLowerCase();

export function createSaashopSandbox(ctx: SandboxContext): SaashopSandbox {
  return new SaashopSandbox(ctx);
}
