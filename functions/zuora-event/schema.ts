import * as z from 'zod';
import { zuoraUnitSchema } from '../../shared/events/catalog/zuora.ts';

/**
 * The request contract of the seed's Event API (`seeds/zuora-event-api.txt`). Two payload shapes
 * exist for every event type: the "first implementation" (`zlink`, `zclient`, `workspace`,
 * `productFamily`, `threshold`) and the one "under development" (`zReference`, `zaccount`,
 * `zsubscription`, `zworkspace`, `client`, `product`, `products[]`). Both normalise into one
 * `ZuoraCommand`; the answer is given in the shape the request used.
 */
export const eventTypes = [
  'CLIENTISCREATED',
  'WORKSPACEISADDEDTOPCLIENT',
  'SUBSCRIPTIONISCREATED',
  'ZLINKUPDATED',
  'PRODUCTLISTISMODIFIED',
] as const;
export type EventType = (typeof eventTypes)[number];

/** `PRODUCTISADDED` is the seed's older name of `PRODUCTLISTISMODIFIED`. */
const typeEventSchema = z
  .enum([...eventTypes, 'PRODUCTISADDED'])
  .transform((t): EventType => (t === 'PRODUCTISADDED' ? 'PRODUCTLISTISMODIFIED' : t));

export type Shape = 'first' | 'current';
export type Unit = z.infer<typeof zuoraUnitSchema>;

/** Zuora numbers (account, subscription, charge): they become key parts, so no `#` or spaces. */
const zuoraNumber = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, . _ : - only');
const workspaceName = z
  .string()
  .min(1)
  .max(128)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  .regex(/^[^#\u0000-\u001f]+$/, 'no # or control characters');
const text = (max = 256) => z.string().max(max);
const family = z.string().min(1).max(128);
const thresholdSchema = z.object({
  // DynamoDB numbers span 1e-130..1e126: beyond sane bounds a capacity is refused, never a 500.
  newCapacity: z
    .number()
    .nonnegative()
    .max(1e15)
    .refine((v) => v === 0 || v >= 1e-9, 'must be 0 or at least 1e-9'),
  unit: zuoraUnitSchema,
});
const zReference = z.string().max(256).optional();

export const envelopeSchema = z.object({
  typeEvent: typeEventSchema,
  emitter: z.enum(['ZUORA', 'PLATEFORME']),
  timestamp: z.iso.datetime({ offset: true, local: true }),
  payload: z.array(z.unknown()).min(1).max(100),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/** The request as documented in OpenAPI (items of either shape; each is validated on its own). */
export const zuoraEventRequestDoc = z
  .object({
    typeEvent: z.enum([...eventTypes, 'PRODUCTISADDED']),
    emitter: z.enum(['ZUORA', 'PLATEFORME']),
    timestamp: z.string().describe('ISO 8601 date-time'),
    payload: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(100)
      .describe('Items in the "first implementation" or the "under development" shape of the seed'),
  })
  .meta({ id: 'ZuoraEventRequest' });

// --- first implementation -------------------------------------------------------------------
const zlinkSchema = z.object({
  existingAccountNumber: zuoraNumber,
  subscriptionNumber: zuoraNumber,
  // Transient in Zuora (see the seed's "Current" DB notes): accepted, never stored.
  ratePlanId: text(64).optional(),
  chargeNumber: zuoraNumber,
});
const firstSchemas = {
  ZLINKUPDATED: z.object({ zlink: zlinkSchema, threshold: thresholdSchema }),
  CLIENTISCREATED: z.object({
    zclient: z.object({
      accountNumber: zuoraNumber,
      firstName: text().optional(),
      lastName: text().optional(),
      email: z.email().max(254).optional(),
      phone: text(64).optional(),
      company: text().optional(),
      department: text().optional(),
      adresse: z
        .object({
          adresse1: text().optional(),
          adresse2: text().optional(),
          city: text().optional(),
          zipCode: text(32).optional(),
          country: text(64).optional(),
        })
        .optional(),
    }),
  }),
  WORKSPACEISADDEDTOPCLIENT: z.object({
    zclient: z.object({ accountNumber: zuoraNumber }),
    workspace: workspaceName,
  }),
  SUBSCRIPTIONISCREATED: z.object({
    zlink: zlinkSchema,
    workspace: workspaceName,
    productFamily: family,
    threshold: thresholdSchema,
  }),
} as const;

// --- under development ----------------------------------------------------------------------
const productSchema = z.object({ zcharge: zuoraNumber, family, threshold: thresholdSchema });
const productListSchema = z
  .array(productSchema)
  .min(1)
  .max(100)
  .refine(
    (list) => new Set(list.map((p) => p.zcharge)).size === list.length,
    'zcharge values must be unique',
  );
const subscriptionItemSchema = z.object({
  zReference,
  zaccount: zuoraNumber,
  zworkspace: workspaceName,
  zsubscription: zuoraNumber,
  products: productListSchema,
});
const currentSchemas = {
  ZLINKUPDATED: z.object({
    zReference,
    zaccount: zuoraNumber,
    zsubscription: zuoraNumber,
    product: z.object({ zcharge: zuoraNumber, family: family.optional(), threshold: thresholdSchema }),
  }),
  CLIENTISCREATED: z.object({
    zReference,
    zaccount: zuoraNumber,
    client: z.object({
      firstName: text().optional(),
      lastName: text().optional(),
      email: z.email().max(254).optional(),
      phone: text(64).optional(),
      name: text().optional(),
      department: text().optional(),
      adresse1: text().optional(),
      adresse2: text().optional(),
      city: text().optional(),
      zipCode: text(32).optional(),
      country: text(64).optional(),
    }),
  }),
  WORKSPACEISADDEDTOPCLIENT: z.object({ zReference, zaccount: zuoraNumber, zworkspace: workspaceName }),
  SUBSCRIPTIONISCREATED: subscriptionItemSchema,
  PRODUCTLISTISMODIFIED: subscriptionItemSchema,
} as const;

// --- normalised commands --------------------------------------------------------------------
export interface ProductSpec {
  chargeNumber: string;
  family: string;
  capacity: number;
  unit: Unit;
}

/** Personal data: stored on the client entity, never logged, never published. */
export interface ClientDetails {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  company?: string;
  department?: string;
  address1?: string;
  address2?: string;
  city?: string;
  zipCode?: string;
  country?: string;
}

export type ZuoraCommand =
  | { type: 'CLIENTISCREATED'; accountNumber: string; client: ClientDetails }
  | { type: 'WORKSPACEISADDEDTOPCLIENT'; accountNumber: string; workspace: string }
  | {
      type: 'SUBSCRIPTIONISCREATED' | 'PRODUCTLISTISMODIFIED';
      accountNumber: string;
      workspace: string;
      subscriptionNumber: string;
      products: ProductSpec[];
      /**
       * `replace`: the list is the subscription's whole product list (charges not listed are
       * deleted) — the "under development" PRODUCTLISTISMODIFIED. `upsert`: the listed charges are
       * added or changed, none removed — SUBSCRIPTIONISCREATED, and the first implementation, whose
       * items carry one charge each.
       */
      listMode: 'replace' | 'upsert';
    }
  | {
      type: 'ZLINKUPDATED';
      accountNumber: string;
      subscriptionNumber: string;
      chargeNumber: string;
      family?: string;
      capacity: number;
      unit: Unit;
    };

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Which shape a request uses: any "under development" key in a payload item decides. */
export function detectShape(body: unknown): Shape {
  const payload = (body as { payload?: unknown } | null)?.payload;
  const markers = ['zReference', 'zaccount', 'zsubscription', 'zworkspace', 'client', 'product', 'products'];
  if (Array.isArray(payload)) {
    for (const item of payload) {
      if (item && typeof item === 'object' && markers.some((m) => m in item)) return 'current';
    }
  }
  return 'first';
}

export type ItemParse =
  | { ok: true; command: ZuoraCommand; zReference: string | null }
  | { ok: false; field: string; message: string; zReference: string | null };

/** Validates and normalises one payload item; a failure names the first offending field. */
export function parseItem(type: EventType, shape: Shape, item: unknown, index: number): ItemParse {
  const rawRef = (item as { zReference?: unknown } | null)?.zReference;
  const zReference = shape === 'current' && typeof rawRef === 'string' ? rawRef : null;
  const result = shape === 'first' ? fromFirst(type, item) : fromCurrent(type, item);
  if (result.ok) return { ok: true, command: result.command, zReference };
  const issue = result.issues[0];
  const field = ['payload', index, ...(issue?.path ?? [])].map(String).join('.');
  return { ok: false, field, message: `${field}: ${issue?.message ?? 'invalid'}`, zReference };
}

type Converted =
  | { ok: true; command: ZuoraCommand }
  | { ok: false; issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> };

function convert<S extends z.ZodType>(
  schema: S,
  item: unknown,
  to: (data: z.infer<S>) => ZuoraCommand,
): Converted {
  const parsed = schema.safeParse(item);
  return parsed.success ? { ok: true, command: to(parsed.data) } : { ok: false, issues: parsed.error.issues };
}

function fromFirst(type: EventType, item: unknown): Converted {
  switch (type) {
    case 'CLIENTISCREATED':
      return convert(firstSchemas.CLIENTISCREATED, item, ({ zclient: c }) => ({
        type,
        accountNumber: c.accountNumber,
        client: defined({
          firstName: c.firstName,
          lastName: c.lastName,
          email: c.email,
          phone: c.phone,
          company: c.company,
          department: c.department,
          address1: c.adresse?.adresse1,
          address2: c.adresse?.adresse2,
          city: c.adresse?.city,
          zipCode: c.adresse?.zipCode,
          country: c.adresse?.country,
        }),
      }));
    case 'WORKSPACEISADDEDTOPCLIENT':
      return convert(firstSchemas.WORKSPACEISADDEDTOPCLIENT, item, (i) => ({
        type,
        accountNumber: i.zclient.accountNumber,
        workspace: i.workspace,
      }));
    case 'SUBSCRIPTIONISCREATED':
    case 'PRODUCTLISTISMODIFIED':
      // The seed has no first-implementation body for the product list: "as in SUBSCRIPTIONISCREATED".
      return convert(firstSchemas.SUBSCRIPTIONISCREATED, item, (i) => ({
        type,
        accountNumber: i.zlink.existingAccountNumber,
        workspace: i.workspace,
        subscriptionNumber: i.zlink.subscriptionNumber,
        listMode: 'upsert',
        products: [
          {
            chargeNumber: i.zlink.chargeNumber,
            family: i.productFamily,
            capacity: i.threshold.newCapacity,
            unit: i.threshold.unit,
          },
        ],
      }));
    case 'ZLINKUPDATED':
      return convert(firstSchemas.ZLINKUPDATED, item, (i) => ({
        type,
        accountNumber: i.zlink.existingAccountNumber,
        subscriptionNumber: i.zlink.subscriptionNumber,
        chargeNumber: i.zlink.chargeNumber,
        capacity: i.threshold.newCapacity,
        unit: i.threshold.unit,
      }));
  }
}

function fromCurrent(type: EventType, item: unknown): Converted {
  switch (type) {
    case 'CLIENTISCREATED':
      return convert(currentSchemas.CLIENTISCREATED, item, ({ zaccount, client: c }) => ({
        type,
        accountNumber: zaccount,
        client: defined({
          firstName: c.firstName,
          lastName: c.lastName,
          email: c.email,
          phone: c.phone,
          company: c.name,
          department: c.department,
          address1: c.adresse1,
          address2: c.adresse2,
          city: c.city,
          zipCode: c.zipCode,
          country: c.country,
        }),
      }));
    case 'WORKSPACEISADDEDTOPCLIENT':
      return convert(currentSchemas.WORKSPACEISADDEDTOPCLIENT, item, (i) => ({
        type,
        accountNumber: i.zaccount,
        workspace: i.zworkspace,
      }));
    case 'SUBSCRIPTIONISCREATED':
    case 'PRODUCTLISTISMODIFIED':
      return convert(currentSchemas[type], item, (i) => ({
        type,
        accountNumber: i.zaccount,
        workspace: i.zworkspace,
        subscriptionNumber: i.zsubscription,
        listMode: type === 'PRODUCTLISTISMODIFIED' ? 'replace' : 'upsert',
        products: i.products.map((p) => ({
          chargeNumber: p.zcharge,
          family: p.family,
          capacity: p.threshold.newCapacity,
          unit: p.threshold.unit,
        })),
      }));
    case 'ZLINKUPDATED':
      return convert(currentSchemas.ZLINKUPDATED, item, (i) =>
        defined({
          type,
          accountNumber: i.zaccount,
          subscriptionNumber: i.zsubscription,
          chargeNumber: i.product.zcharge,
          family: i.product.family,
          capacity: i.product.threshold.newCapacity,
          unit: i.product.threshold.unit,
        }),
      );
  }
}

// --- responses ------------------------------------------------------------------------------
export const outcomeNames = [
  'CREATED',
  'MODIFIED',
  'DELETED',
  'UPGRADED',
  'UPDATED',
  'BAD_REQUEST',
  'NOT_FOUND',
  'UNPROCESSABLE_ENTITY',
  'INTERNAL_SERVER_ERROR',
] as const;
export type OutcomeName = (typeof outcomeNames)[number];

/** One entry of `details[]` in the "current" response shape. */
export const itemDetailSchema = z.object({
  zReference: z.string().nullable(),
  calculedHash: z.string().nullable(),
  success: z.boolean(),
  name: z.enum(outcomeNames),
  message: z.string().nullable(),
  /** PRODUCTLISTISMODIFIED only: the outcome per charge (an addition to the seed's contract). */
  changes: z
    .array(z.object({ zcharge: z.string(), name: z.enum(outcomeNames), message: z.string().nullable() }))
    .optional(),
});
export type ItemDetail = z.infer<typeof itemDetailSchema>;

// --- responses as documented (OpenAPI) --------------------------------------------------------
/** Names a refusal of the whole request may carry besides the item outcomes (`requestKo`). */
const answerNames = z.enum([...outcomeNames, 'UNAUTHORIZED', 'FORBIDDEN']);

/** The "first implementation" answer: `errorDTOS` null on success, one entry per failed item. */
export const zuoraFirstAnswerDoc = z
  .object({
    success: z.boolean(),
    message: z.string().nullable().describe('null on success, `errors while executing` otherwise'),
    errorDTOS: z.array(z.object({ name: answerNames, message: z.string().nullable() })).nullable(),
  })
  .meta({ id: 'ZuoraFirstAnswer', description: 'Answer to a request in the "first implementation" shape' });

/** The "under development" answer: the envelope echoed, one `details[]` entry per item. */
export const zuoraCurrentAnswerDoc = z
  .object({
    typeEvent: z.string().nullable(),
    emitter: z.string().nullable(),
    timestamp: z.string().nullable(),
    success: z.boolean(),
    message: z
      .string()
      .describe('The distinct outcomes in lower case (e.g. `created`), or `errors while executing`'),
    details: z.array(itemDetailSchema.extend({ name: answerNames })),
  })
  .meta({ id: 'ZuoraCurrentAnswer', description: 'Answer to a request in the "under development" shape' });

/** Every answer of the route (success and KO) is in the shape of the request. */
export const zuoraEventAnswerDoc = z
  .union([zuoraFirstAnswerDoc, zuoraCurrentAnswerDoc])
  .meta({ id: 'ZuoraEventAnswer' });
