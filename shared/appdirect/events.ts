import * as z from 'zod';
import { ValidationError, zodDetails } from '../errors.ts';

/**
 * The events an AppDirect marketplace sends a product (ISV connector protocol, confirmed by
 * AppDirect's service-integration SDK and its fixtures in `../shared/reference/data/appdirect/`).
 * Parsed tolerantly, as AppDirect advises: unknown fields are dropped, nulls are accepted wherever
 * the fixtures show them, and quantities may be numbers or numeric strings (`"25"`). What each event
 * type needs to be honoured is checked per type, naming the missing field.
 */
export const APPDIRECT_EVENT_TYPES = [
  'SUBSCRIPTION_ORDER',
  'SUBSCRIPTION_CHANGE',
  'SUBSCRIPTION_CANCEL',
  'SUBSCRIPTION_NOTICE',
  'USER_ASSIGNMENT',
  'USER_UNASSIGNMENT',
  'USER_SYNC',
  'USER_LINK',
  'ACCOUNT_SYNC',
  'ACCOUNT_UNSYNC',
  'ADDON_ORDER',
  'ADDON_BIND',
  'ADDON_UNBIND',
  'ADDON_CHANGE',
  'ADDON_CANCEL',
] as const;
export type AppDirectEventType = (typeof APPDIRECT_EVENT_TYPES)[number];

export const NOTICE_TYPES = ['CLOSED', 'DEACTIVATED', 'REACTIVATED', 'UPCOMING_INVOICE'] as const;

const text = (max = 1000) => z.string().max(max).nullish();

/** A quantity: a number or a numeric string, finite and ≥ 0. */
export const quantitySchema = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d+(\.\d+)?$/, 'must be a number'),
  ])
  .transform((v) => Number(v))
  .refine((v) => Number.isFinite(v) && v >= 0 && v <= 1_000_000_000, 'must be between 0 and 1e9');

export const addressSchema = z.object({
  firstName: text(),
  lastName: text(),
  fullName: text(),
  companyName: text(),
  phone: text(),
  street1: text(),
  street2: text(),
  city: text(),
  state: text(),
  zip: text(),
  country: text(),
});

export const userSchema = z.object({
  uuid: text(200),
  openId: text(2000),
  email: text(254),
  firstName: text(),
  lastName: text(),
  language: text(20),
  locale: text(20),
  address: addressSchema.nullish(),
  attributes: z.record(z.string(), z.unknown()).nullish(),
});
export type AppDirectUser = z.infer<typeof userSchema>;

export const companySchema = z.object({
  uuid: text(200),
  externalId: text(200),
  name: text(200),
  email: text(254),
  phoneNumber: text(),
  website: text(2000),
  country: text(),
});

export const accountSchema = z.object({
  accountIdentifier: text(200),
  status: text(50),
  parentAccountIdentifier: text(200),
});

export const orderItemSchema = z.object({ unit: z.string().min(1).max(100), quantity: quantitySchema });

export const orderSchema = z.object({
  editionCode: text(200),
  addonOfferingCode: text(200),
  pricingDuration: text(50),
  items: z.array(orderItemSchema).max(100).nullish(),
});
export type AppDirectOrder = z.infer<typeof orderSchema>;

export const payloadSchema = z.object({
  user: userSchema.nullish(),
  company: companySchema.nullish(),
  account: accountSchema.nullish(),
  addonInstance: z.object({ id: z.string().min(1).max(200) }).nullish(),
  addonBinding: z.object({ id: z.string().min(1).max(200) }).nullish(),
  order: orderSchema.nullish(),
  notice: z.object({ type: z.enum(NOTICE_TYPES), message: text(2000) }).nullish(),
  configuration: z.record(z.string(), z.unknown()).nullish(),
});

const eventBaseSchema = z.object({
  type: z.enum(APPDIRECT_EVENT_TYPES),
  marketplace: z.object({ partner: text(200), baseUrl: z.string().min(1).max(2048) }),
  applicationUuid: text(200),
  /** `STATELESS`: a test ping, answered success with no side effect. `DEVELOPMENT`: a normal event. */
  flag: text(50),
  creator: userSchema.nullish(),
  payload: payloadSchema.nullish(),
  returnUrl: text(2048),
});

type EventBase = z.infer<typeof eventBaseSchema>;

/** Paths each type needs, checked after the common parse (a STATELESS ping needs none). */
const REQUIRED: Record<AppDirectEventType, string[]> = {
  SUBSCRIPTION_ORDER: ['payload.company', 'payload.order.editionCode'],
  SUBSCRIPTION_CHANGE: ['payload.account.accountIdentifier', 'payload.order.editionCode'],
  SUBSCRIPTION_CANCEL: ['payload.account.accountIdentifier'],
  SUBSCRIPTION_NOTICE: ['payload.account.accountIdentifier', 'payload.notice.type'],
  USER_ASSIGNMENT: ['payload.account.accountIdentifier', 'payload.user.uuid'],
  USER_UNASSIGNMENT: ['payload.account.accountIdentifier', 'payload.user.uuid'],
  USER_SYNC: ['payload.account.accountIdentifier', 'payload.user.uuid'],
  USER_LINK: ['payload.account.accountIdentifier', 'payload.user.uuid'],
  ACCOUNT_SYNC: ['payload.account.accountIdentifier'],
  ACCOUNT_UNSYNC: ['payload.account.accountIdentifier'],
  ADDON_ORDER: ['payload.account.accountIdentifier'],
  ADDON_BIND: ['payload.account.accountIdentifier', 'payload.addonInstance.id'],
  ADDON_UNBIND: ['payload.account.accountIdentifier', 'payload.addonBinding.id'],
  ADDON_CHANGE: ['payload.account.accountIdentifier', 'payload.addonInstance.id', 'payload.order'],
  ADDON_CANCEL: ['payload.account.accountIdentifier', 'payload.addonInstance.id'],
};

const at = (value: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      value,
    );

export const appDirectEventSchema = eventBaseSchema.superRefine((event, ctx) => {
  if (isStateless(event)) return;
  for (const path of REQUIRED[event.type]) {
    const v = at(event, path);
    if (v === undefined || v === null || v === '') {
      ctx.addIssue({ code: 'custom', path: path.split('.'), message: `is required for ${event.type}` });
    }
  }
  if (
    event.type === 'ADDON_ORDER' &&
    !event.payload?.order?.addonOfferingCode &&
    !event.payload?.order?.editionCode
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['payload', 'order', 'addonOfferingCode'],
      message: 'an add-on offering code or edition code is required for ADDON_ORDER',
    });
  }
});
export type AppDirectEvent = EventBase;

/** A test ping from the marketplace: success, nothing done. */
export function isStateless(event: Pick<EventBase, 'flag'>): boolean {
  return event.flag?.toUpperCase() === 'STATELESS';
}

/** The AppDirect account identifier an event is about (undefined for a SUBSCRIPTION_ORDER). */
export const accountIdentifierOf = (event: EventBase): string | undefined =>
  event.payload?.account?.accountIdentifier ?? undefined;

/** A fetched event, or a 400 in AppDirect's shape naming the fields at fault. */
export function parseEvent(body: unknown): AppDirectEvent {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError(
      'The marketplace served an event that is not a JSON object.',
      [{ field: 'event', message: 'not a JSON object' }],
      'INVALID_EVENT',
    );
  }
  const parsed = appDirectEventSchema.safeParse(body);
  if (!parsed.success) {
    const details = zodDetails(parsed.error.issues).map((d) => ({ ...d, field: `event.${d.field}` }));
    throw new ValidationError(
      `The marketplace served an invalid event: ${details[0]?.field}: ${details[0]?.message}.`,
      details,
      'INVALID_EVENT',
    );
  }
  return parsed.data;
}
