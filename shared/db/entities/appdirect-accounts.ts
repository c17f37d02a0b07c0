import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';
import { orderKey } from './orders.ts';

/**
 * AppDirect accounts: what the hub answered `accountIdentifier` for, keyed by it. An account is a
 * subscription (an order of the `appdirect` channel) or an add-on subscription of a parent account
 * (an add-on product on the parent's Zuora subscription). Add-on instances and user bindings of the
 * classic add-on events live in the same item collection. Licence seats live on the order item
 * itself (`seats`, a map keyed by the AppDirect user uuid) so the seat limit is one condition on one
 * item and the order shows its seats.
 *
 *   PK `ADACCOUNT#<accountIdentifier>`   SK `ACCOUNT`             the account
 *   PK `ADACCOUNT#<accountIdentifier>`   SK `ADDON#<addonId>`     an add-on instance (ADDON_ORDER)
 *   PK `ADACCOUNT#<accountIdentifier>`   SK `BINDING#<bindingId>` a user bound to an add-on (ADDON_BIND)
 * The order names its account in `channelRef.accountIdentifier`, so no index is needed.
 */
export const accountStatusSchema = z.enum([
  'PENDING',
  'ACTIVE',
  'SUSPENDED',
  'CANCELLED',
  'CLOSED',
  'FAILED',
]);
export type AccountStatus = z.infer<typeof accountStatusSchema>;

export const accountLineSchema = z.object({
  productCode: z.string(),
  quantity: z.number(),
  unit: z.string(),
});
export type AccountLine = z.infer<typeof accountLineSchema>;

export const appDirectAccountSchema = z.object({
  accountIdentifier: z.string(),
  marketplaceId: z.string(),
  tenant: z.string(),
  kind: z.enum(['subscription', 'addon']),
  parentAccountIdentifier: z.string().optional(),
  /** The event that created it (its SUBSCRIPTION_ORDER). */
  eventId: z.string(),
  orderId: z.string().optional(),
  companyUuid: z.string().optional(),
  editionCode: z.string().optional(),
  /** What it currently sells (after changes). */
  lines: z.array(accountLineSchema),
  status: accountStatusSchema,
  subscriptionNumber: z.string().optional(),
  zuoraAccountNumber: z.string().optional(),
  /** Add-on subscription: the rate plan it added to the parent's Zuora subscription. */
  ratePlanId: z.string().optional(),
  /** Marketplace companies linked by ACCOUNT_SYNC. */
  syncedCompanies: z.array(z.string()).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AppDirectAccount = z.infer<typeof appDirectAccountSchema>;

export const addonSchema = z.object({
  addonId: z.string(),
  eventId: z.string(),
  productCode: z.string(),
  quantity: z.number(),
  unit: z.string(),
  ratePlanId: z.string().optional(),
  status: z.enum(['ACTIVE', 'CANCELLED']),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AppDirectAddon = z.infer<typeof addonSchema>;

export const bindingSchema = z.object({
  bindingId: z.string(),
  addonId: z.string(),
  userUuid: z.string(),
  eventId: z.string(),
  createdAt: z.string(),
});
export type AppDirectBinding = z.infer<typeof bindingSchema>;

/** A licence seat on an order (identifiers only; names and e-mails stay with the marketplace). */
export const seatSchema = z.object({ assignedAt: z.string(), eventId: z.string() });
export type Seat = z.infer<typeof seatSchema>;

const pk = (accountIdentifier: string) => key('ADACCOUNT', accountIdentifier);
export const accountKey = (accountIdentifier: string) => ({ PK: pk(accountIdentifier), SK: 'ACCOUNT' });
export const addonKey = (accountIdentifier: string, addonId: string) => ({
  PK: pk(accountIdentifier),
  SK: key('ADDON', addonId),
});
export const bindingKey = (accountIdentifier: string, bindingId: string) => ({
  PK: pk(accountIdentifier),
  SK: key('BINDING', bindingId),
});

const strip = (item: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !['PK', 'SK', 'entity'].includes(k)));

export function toItem(account: AppDirectAccount): Record<string, unknown> {
  return {
    ...accountKey(account.accountIdentifier),
    entity: 'appdirect-account',
    ...account,
  };
}
export const fromItem = (item: Record<string, unknown>): AppDirectAccount =>
  appDirectAccountSchema.parse(strip(item));

export type SeatOutcome = 'assigned' | 'already-assigned' | 'limit-reached' | 'no-order';

export class AppDirectAccountStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(accountIdentifier: string): Promise<AppDirectAccount | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: accountKey(accountIdentifier), ConsistentRead: true }),
    );
    return res.Item ? fromItem(res.Item) : undefined;
  }

  /** Creates the account; when it exists already (a redelivered event) returns the stored one. */
  async create(account: AppDirectAccount): Promise<AppDirectAccount> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(account),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return account;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      return (await this.get(account.accountIdentifier))!;
    }
  }

  /**
   * Sets top-level fields of an existing account (status, lines, Zuora numbers…). `onlyFrom` makes
   * the write conditional on the current status. Returns the account after the write, or undefined
   * when it does not exist or is not in one of those states.
   */
  async patch(
    accountIdentifier: string,
    set: Partial<Omit<AppDirectAccount, 'accountIdentifier' | 'createdAt'>>,
    now: Date,
    onlyFrom?: readonly AccountStatus[],
  ): Promise<AppDirectAccount | undefined> {
    const names: Record<string, string> = onlyFrom?.length ? { '#status': 'status' } : {};
    const values: Record<string, unknown> = { ':now': now.toISOString() };
    const sets = ['updatedAt = :now'];
    for (const [i, [field, value]] of Object.entries(set).entries()) {
      if (value === undefined) continue;
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    }
    const conditions = ['attribute_exists(PK)'];
    (onlyFrom ?? []).forEach((s, i) => {
      values[`:o${i}`] = s;
    });
    if (onlyFrom?.length) conditions.push(`#status IN (${onlyFrom.map((_, i) => `:o${i}`).join(', ')})`);
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(accountIdentifier),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(res.Attributes!);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Adds a marketplace company to the account's synced companies (a set: idempotent). */
  async setSynced(accountIdentifier: string, companyUuid: string, synced: boolean, now: Date): Promise<void> {
    const account = await this.get(accountIdentifier);
    if (!account) return;
    const companies = new Set(account.syncedCompanies ?? []);
    if (synced) companies.add(companyUuid);
    else companies.delete(companyUuid);
    await this.patch(accountIdentifier, { syncedCompanies: [...companies].sort() }, now);
  }

  async getAddon(accountIdentifier: string, addonId: string): Promise<AppDirectAddon | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: addonKey(accountIdentifier, addonId),
        ConsistentRead: true,
      }),
    );
    return res.Item ? addonSchema.parse(strip(res.Item)) : undefined;
  }

  async putAddon(accountIdentifier: string, addon: AppDirectAddon): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...addonKey(accountIdentifier, addon.addonId), entity: 'appdirect-addon', ...addon },
      }),
    );
  }

  async getBinding(accountIdentifier: string, bindingId: string): Promise<AppDirectBinding | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: bindingKey(accountIdentifier, bindingId),
        ConsistentRead: true,
      }),
    );
    return res.Item ? bindingSchema.parse(strip(res.Item)) : undefined;
  }

  /** Creates the binding once (a redelivery finds it). */
  async putBinding(accountIdentifier: string, binding: AppDirectBinding): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...bindingKey(accountIdentifier, binding.bindingId),
            entity: 'appdirect-binding',
            ...binding,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  /** Deletes the binding; false when there was none. */
  async deleteBinding(accountIdentifier: string, bindingId: string): Promise<boolean> {
    const res = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: bindingKey(accountIdentifier, bindingId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return res.Attributes !== undefined;
  }

  /**
   * Assigns a licence seat on the order item: one conditional update that also enforces the seat
   * limit (`size(seats)` counts the map's entries), so two assignments can never both take the last
   * seat. A seat already held by the user is not an error (a redelivered event).
   */
  async assignSeat(
    orderId: string,
    userUuid: string,
    seat: Seat,
    limit: number | undefined,
  ): Promise<SeatOutcome> {
    // The map must exist before a nested path can be set (a separate, idempotent write).
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET seats = :empty',
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(seats)',
          ExpressionAttributeValues: { ':empty': {} },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET seats.#u = :seat',
          ConditionExpression: `attribute_exists(PK) AND attribute_not_exists(seats.#u)${
            limit !== undefined ? ' AND size(seats) < :limit' : ''
          }`,
          ExpressionAttributeNames: { '#u': userUuid },
          ExpressionAttributeValues: { ':seat': seat, ...(limit !== undefined ? { ':limit': limit } : {}) },
        }),
      );
      return 'assigned';
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    if (!res.Item) return 'no-order';
    const seats = (res.Item.seats ?? {}) as Record<string, unknown>;
    return Object.hasOwn(seats, userUuid) ? 'already-assigned' : 'limit-reached';
  }

  /** Frees the user's seat; false when the user held none. */
  async unassignSeat(orderId: string, userUuid: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'REMOVE seats.#u',
          ConditionExpression: 'attribute_exists(seats.#u)',
          ExpressionAttributeNames: { '#u': userUuid },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** The seats of an order (user uuid → seat). */
  async seats(orderId: string): Promise<Record<string, Seat>> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: orderKey(orderId),
        ConsistentRead: true,
        ProjectionExpression: 'seats',
      }),
    );
    return z.record(z.string(), seatSchema).parse(res.Item?.seats ?? {});
  }
}
