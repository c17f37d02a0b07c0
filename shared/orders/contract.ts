import * as z from 'zod';
import { findProduct } from './catalogue.ts';
import { ISO_3166_COUNTRIES, ISO_4217_CURRENCIES } from './iso-codes.ts';

/**
 * The order a channel submits (`POST /v1/orders`), and what the hub answers. Shared because every
 * channel (distributor API today, SaaShop and AppDirect normalisers) feeds the same order use case.
 */
const text = (max: number) => z.string().trim().min(1).max(max);

const countrySchema = z.string().refine((c) => ISO_3166_COUNTRIES.has(c), {
  message: 'must be an ISO 3166-1 alpha-2 country code, e.g. DE',
});

export const contactSchema = z
  .object({
    firstName: text(80),
    lastName: text(80),
    email: z.email().max(254),
    phone: z.string().trim().max(40).optional(),
  })
  .strict();

export const addressSchema = z
  .object({
    line1: text(200),
    line2: z.string().trim().max(200).optional(),
    city: text(100),
    region: z.string().trim().max(100).optional(),
    postalCode: z.string().trim().max(20).optional(),
    country: countrySchema,
  })
  .strict();

export const orderLineSchema = z
  .object({
    productCode: z.string().refine((c) => findProduct(c) !== undefined, {
      message: 'is not a product code of the catalogue',
    }),
    quantity: z.number().int().positive().max(1_000_000),
    unit: text(40),
    unitPrice: z.number().nonnegative().max(1_000_000_000).optional(),
    termMonths: z.number().int().min(1).max(120).optional(),
  })
  .strict()
  .superRefine((line, ctx) => {
    const product = findProduct(line.productCode);
    if (product && !product.units.includes(line.unit)) {
      ctx.addIssue({
        code: 'custom',
        path: ['unit'],
        message: `must be one of ${product.units.join(', ')} for ${line.productCode}`,
      });
    }
  });

export const orderTypeSchema = z.enum(['Purchase', 'Trial', 'Evaluation']);

export const orderRequestSchema = z
  .object({
    channelOrderId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, 'must be 1-100 letters, digits or . _ : / -'),
    orderType: orderTypeSchema,
    currency: z.string().refine((c) => ISO_4217_CURRENCIES.has(c), {
      message: 'must be an ISO 4217 currency code, e.g. EUR',
    }),
    sellTo: z.object({ company: text(200), contact: contactSchema, address: addressSchema }).strict(),
    partner: z
      .object({ id: z.string().trim().max(100).optional(), name: text(200), contact: contactSchema })
      .strict(),
    lines: z.array(orderLineSchema).min(1).max(50),
  })
  .strict()
  .meta({ id: 'OrderRequest' });
export type OrderRequest = z.infer<typeof orderRequestSchema>;

/**
 * The channel an order came in through: `api` (a distributor calling `POST /v1/orders`), or a
 * marketplace connector that normalises its own order format into an {@link OrderRequest} and hands
 * it to the same order use case.
 */
export const orderChannelSchema = z.enum(['api', 'saashop', 'appdirect']);
export type OrderChannel = z.infer<typeof orderChannelSchema>;

export const orderStatusSchema = z.enum([
  'RECEIVED',
  'SCREENING',
  'ACCEPTED',
  'NEEDS_REVIEW',
  'REJECTED',
  'BILLING_PROVISIONED',
  'FULFILLED',
  'ERROR',
]);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

/** States nothing moves an order out of. */
export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(['REJECTED', 'FULFILLED', 'ERROR']);

/** Answer of `POST /v1/orders` (201 ACCEPTED, 202 NEEDS_REVIEW or RECEIVED). */
export const orderAcceptedResponseSchema = z
  .object({
    orderId: z.string(),
    channelOrderId: z.string(),
    status: orderStatusSchema,
    message: z.string(),
  })
  .meta({ id: 'OrderSubmission' });

export const reviewDecisionSchema = z
  .object({ reason: z.string().trim().min(1).max(500) })
  .strict()
  .meta({ id: 'ReviewDecision' });

export const listOrdersQuerySchema = z
  .object({
    status: orderStatusSchema.optional(),
    cursor: z.string().max(2000).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();

/**
 * Answer of `GET /v1/orders/{orderId}` (`orderView` in functions/order-intake/read-orders.ts), as
 * published in the OpenAPI document: the fields every order has; the downstream ids (screening,
 * billing, crm, licence…) appear as the order progresses.
 */
export const orderViewSchema = z
  .looseObject({
    orderId: z.string(),
    channel: z.string(),
    channelOrderId: z.string(),
    orderType: z.string(),
    currency: z.string(),
    status: orderStatusSchema,
    history: z.array(z.looseObject({ status: orderStatusSchema })),
  })
  .meta({ id: 'OrderView' });
