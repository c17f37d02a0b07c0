import * as z from 'zod';
import type { EventDefinition } from './index.ts';

/**
 * Events of the Zuora event receiver (`functions/zuora-event`). Each carries the ids of the entities
 * it touched and their new state, so the vendor's platform can provision through webhooks. `tenant`
 * is the tenant that receives the Zuora model (`PLATFORM_TENANT`, `platform` by default). `eventId`
 * is deterministic per applied item, so a consumer can drop the rare duplicate of a crash recovery.
 * Personal fields of the Zuora client (name, e-mail, phone, address) never leave the hub.
 */
export const zuoraUnitSchema = z.enum(['Licence', 'Byte', 'Kilo', 'Mega', 'Giga', 'Tera']);

const base = {
  tenant: z.string(),
  eventId: z.string(),
  emitter: z.enum(['ZUORA', 'PLATEFORME']),
  accountNumber: z.string(),
};

export const zuoraProductStateSchema = z.object({
  productId: z.string(),
  chargeNumber: z.string(),
  family: z.string(),
  capacity: z.number(),
  unit: zuoraUnitSchema,
});

export const zuoraClientCreatedSchema = z.object({
  ...base,
  clientId: z.string(),
  change: z.enum(['CREATED', 'MODIFIED']),
  company: z.string().optional(),
  department: z.string().optional(),
  country: z.string().optional(),
});

export const zuoraWorkspaceAddedSchema = z.object({
  ...base,
  clientId: z.string(),
  workspaceId: z.string(),
  workspace: z.string(),
});

export const zuoraSubscriptionCreatedSchema = z.object({
  ...base,
  clientId: z.string(),
  subscriptionId: z.string(),
  subscriptionNumber: z.string(),
  workspace: z.string(),
  products: z.array(zuoraProductStateSchema),
});

export const zuoraCapacityUpgradedSchema = z.object({
  ...base,
  subscriptionId: z.string(),
  subscriptionNumber: z.string(),
  previousCapacity: z.number(),
  product: zuoraProductStateSchema,
});

export const zuoraProductsModifiedSchema = z.object({
  ...base,
  subscriptionId: z.string(),
  subscriptionNumber: z.string(),
  changes: z.array(
    z.object({
      change: z.enum(['CREATED', 'MODIFIED', 'UPGRADED', 'DELETED']),
      product: zuoraProductStateSchema,
      previousCapacity: z.number().optional(),
    }),
  ),
  products: z.array(zuoraProductStateSchema),
});

export const zuoraEvents: Record<string, EventDefinition> = {
  'zuora.client.created': {
    schema: zuoraClientCreatedSchema,
    public: true,
    description: 'A Zuora client (account) was created, or its details changed (change: MODIFIED)',
  },
  'zuora.workspace.added': {
    schema: zuoraWorkspaceAddedSchema,
    public: true,
    description: 'A workspace was added to a Zuora client',
  },
  'zuora.subscription.created': {
    schema: zuoraSubscriptionCreatedSchema,
    public: true,
    description: 'A subscription was created with its initial products',
  },
  'zuora.capacity.upgraded': {
    schema: zuoraCapacityUpgradedSchema,
    public: true,
    description: 'The capacity of one product (charge) of a subscription was raised',
  },
  'zuora.products.modified': {
    schema: zuoraProductsModifiedSchema,
    public: true,
    description: 'The product list of a subscription changed (charges created, modified, upgraded, deleted)',
  },
};
