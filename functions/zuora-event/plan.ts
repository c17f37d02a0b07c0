import type { IdGenerator } from '../../shared/ids.ts';
import { canonicalJson } from './hash.ts';
import type {
  ItemResult,
  Plan,
  WriteOp,
  ZuoraClient,
  ZuoraProduct,
  ZuoraStore,
  ZuoraSubscription,
  ZuoraWorkspace,
} from './model.ts';
import type { OutcomeName, ProductSpec, Unit, ZuoraCommand } from './schema.ts';

/**
 * Planning: from a command and the current state, the writes to make, the result to report and
 * the events to publish. Pure, so the rules are tested without a table; the plan is saved before
 * it is executed (write-ahead), so a crash mid-way is finished by the next delivery.
 */
export interface PlanContext {
  hash: string;
  now: Date;
  ids: IdGenerator;
  /** Tenant that receives the Zuora model's events. */
  tenant: string;
  emitter: 'ZUORA' | 'PLATEFORME';
}

export interface PlanState {
  client?: ZuoraClient;
  workspace?: ZuoraWorkspace;
  subscription?: { subscription: ZuoraSubscription; products: ZuoraProduct[] };
}

/** Reads only what the command needs. */
export async function loadState(command: ZuoraCommand, store: ZuoraStore): Promise<PlanState> {
  const [client, workspace, subscription] = await Promise.all([
    store.getClient(command.accountNumber),
    'workspace' in command ? store.getWorkspace(command.accountNumber, command.workspace) : undefined,
    'subscriptionNumber' in command ? store.getSubscription(command.subscriptionNumber) : undefined,
  ]);
  return { client, workspace, subscription };
}

const fail = (name: OutcomeName, message: string): Plan => ({
  result: { success: false, name, message },
  ops: [],
  events: [],
});
const noop = (name: OutcomeName, message: string): Plan => ({
  result: { success: true, name, message },
  ops: [],
  events: [],
});

/** Storage units compare in bytes (binary multiples); licences only with licences. */
const BYTES: Partial<Record<Unit, number>> = {
  Byte: 1,
  Kilo: 1024,
  Mega: 1024 ** 2,
  Giga: 1024 ** 3,
  Tera: 1024 ** 4,
};
function compareCapacity(
  from: { capacity: number; unit: Unit },
  to: { capacity: number; unit: Unit },
): number | undefined {
  if (from.unit === to.unit) return Math.sign(to.capacity - from.capacity);
  const a = BYTES[from.unit];
  const b = BYTES[to.unit];
  if (a === undefined || b === undefined) return undefined;
  return Math.sign(to.capacity * b - from.capacity * a);
}

const metaFor = (ctx: PlanContext, name: OutcomeName, previous?: { version: number; createdAt: string }) => ({
  version: (previous?.version ?? 0) + 1,
  lastHash: ctx.hash,
  lastName: name,
  createdAt: previous?.createdAt ?? ctx.now.toISOString(),
  updatedAt: ctx.now.toISOString(),
  // Belongs to the item that wrote the previous version; the store sets it again when due.
  lastApplied: undefined,
});

const productState = (p: ZuoraProduct) => ({
  productId: p.productId,
  chargeNumber: p.chargeNumber,
  family: p.family,
  capacity: p.capacity,
  unit: p.unit,
});

const eventId = (ctx: PlanContext, index = 0) => `${ctx.hash}-${index}`;

/** Plans one command. Refusals (NOT_FOUND, UNPROCESSABLE_ENTITY) are plans without writes. */
export function planCommand(command: ZuoraCommand, state: PlanState, ctx: PlanContext): Plan {
  switch (command.type) {
    case 'CLIENTISCREATED':
      return planClient(command, state, ctx);
    case 'WORKSPACEISADDEDTOPCLIENT':
      return planWorkspace(command, state, ctx);
    case 'SUBSCRIPTIONISCREATED':
      return planSubscription(command, state, ctx);
    case 'PRODUCTLISTISMODIFIED':
      return planProductList(command, state, ctx);
    case 'ZLINKUPDATED':
      return planZlink(command, state, ctx);
  }
}

type Cmd<T extends ZuoraCommand['type']> = ZuoraCommand & { type: T };
type ListCmd = Extract<ZuoraCommand, { products: ProductSpec[] }>;

function planClient(command: Cmd<'CLIENTISCREATED'>, { client }: PlanState, ctx: PlanContext): Plan {
  const details = command.client;
  if (client && canonicalJson(client.details) === canonicalJson(details))
    return noop('UPDATED', client.clientId);
  const name: OutcomeName = client ? 'MODIFIED' : 'CREATED';
  const clientId = client?.clientId ?? ctx.ids.next('zcl');
  return {
    result: { success: true, name, message: clientId },
    ops: [
      {
        kind: 'put',
        record: {
          entity: 'zuora-client',
          value: { clientId, accountNumber: command.accountNumber, details, ...metaFor(ctx, name, client) },
        },
        expectedVersion: client?.version ?? null,
      },
    ],
    events: [
      {
        type: 'zuora.client.created',
        detail: dropUndefined({
          tenant: ctx.tenant,
          eventId: eventId(ctx),
          emitter: ctx.emitter,
          accountNumber: command.accountNumber,
          clientId,
          change: name,
          // Only organisational fields leave the hub; names, e-mail, phone and address stay here.
          company: details.company,
          department: details.department,
          country: details.country,
        }),
      },
    ],
  };
}

function planWorkspace(command: Cmd<'WORKSPACEISADDEDTOPCLIENT'>, state: PlanState, ctx: PlanContext): Plan {
  const { client, workspace } = state;
  if (!client) return fail('NOT_FOUND', `client ${command.accountNumber} not found`);
  if (workspace) return noop('UPDATED', workspace.workspaceId);
  const workspaceId = ctx.ids.next('zws');
  return {
    result: { success: true, name: 'CREATED', message: workspaceId },
    ops: [
      {
        kind: 'put',
        record: {
          entity: 'zuora-workspace',
          value: {
            workspaceId,
            clientId: client.clientId,
            accountNumber: command.accountNumber,
            workspace: command.workspace,
            ...metaFor(ctx, 'CREATED'),
          },
        },
        expectedVersion: null,
      },
    ],
    events: [
      {
        type: 'zuora.workspace.added',
        detail: {
          tenant: ctx.tenant,
          eventId: eventId(ctx),
          emitter: ctx.emitter,
          accountNumber: command.accountNumber,
          clientId: client.clientId,
          workspaceId,
          workspace: command.workspace,
        },
      },
    ],
  };
}

function checkParents(command: ListCmd, state: PlanState) {
  if (!state.client) return fail('NOT_FOUND', `client ${command.accountNumber} not found`);
  if (!state.workspace)
    return fail('NOT_FOUND', `workspace ${command.workspace} not found for client ${command.accountNumber}`);
  return undefined;
}

function planSubscription(command: ListCmd, state: PlanState, ctx: PlanContext): Plan {
  const refused = checkParents(command, state);
  if (refused) return refused;
  const client = state.client!;
  if (state.subscription) {
    if (state.subscription.subscription.accountNumber !== command.accountNumber) {
      return fail(
        'UNPROCESSABLE_ENTITY',
        `subscription ${command.subscriptionNumber} belongs to another account`,
      );
    }
    // Created before (by another item): add or change the listed products (never removes any).
    return planProductList({ ...command, type: 'PRODUCTLISTISMODIFIED' }, state, ctx);
  }
  const subscriptionId = ctx.ids.next('zsu');
  const products: ZuoraProduct[] = command.products.map((p) => ({
    productId: ctx.ids.next('zpr'),
    subscriptionNumber: command.subscriptionNumber,
    chargeNumber: p.chargeNumber,
    family: p.family,
    capacity: p.capacity,
    unit: p.unit,
    ...metaFor(ctx, 'CREATED'),
  }));
  const ops: WriteOp[] = [
    {
      kind: 'put',
      record: {
        entity: 'zuora-subscription',
        value: {
          subscriptionId,
          subscriptionNumber: command.subscriptionNumber,
          clientId: client.clientId,
          accountNumber: command.accountNumber,
          workspace: command.workspace,
          ...metaFor(ctx, 'CREATED'),
        },
      },
      expectedVersion: null,
    },
    ...products.map(
      (p): WriteOp => ({
        kind: 'put',
        record: { entity: 'zuora-product', value: p },
        expectedVersion: null,
      }),
    ),
    {
      kind: 'registerSubscription',
      subscriptionNumber: command.subscriptionNumber,
      accountNumber: command.accountNumber,
    },
    ...products.map(
      (p): WriteOp => ({
        kind: 'putCharge',
        subscriptionNumber: command.subscriptionNumber,
        chargeNumber: p.chargeNumber,
        unit: p.unit,
      }),
    ),
  ];
  return {
    result: { success: true, name: 'CREATED', message: subscriptionId },
    ops,
    events: [
      {
        type: 'zuora.subscription.created',
        detail: {
          tenant: ctx.tenant,
          eventId: eventId(ctx),
          emitter: ctx.emitter,
          accountNumber: command.accountNumber,
          clientId: client.clientId,
          subscriptionId,
          subscriptionNumber: command.subscriptionNumber,
          workspace: command.workspace,
          products: products.map(productState),
        },
      },
    ],
  };
}

function planProductList(command: ListCmd, state: PlanState, ctx: PlanContext): Plan {
  const refused = checkParents(command, state);
  if (refused) return refused;
  const current = state.subscription;
  if (!current || current.subscription.accountNumber !== command.accountNumber) {
    return fail(
      'NOT_FOUND',
      `subscription ${command.subscriptionNumber} not found for client ${command.accountNumber}`,
    );
  }
  const { subscription } = current;
  const existing = new Map(current.products.map((p) => [p.chargeNumber, p]));
  const wanted = new Set(command.products.map((p) => p.chargeNumber));
  const ops: WriteOp[] = [];
  const changes: NonNullable<ItemResult['changes']> = [];
  const eventChanges: Array<Record<string, unknown>> = [];
  const next: ZuoraProduct[] = [];

  for (const spec of command.products) {
    const before = existing.get(spec.chargeNumber);
    const name = productChange(before, spec);
    if (!name) {
      next.push(before!);
      continue;
    }
    const product: ZuoraProduct = {
      productId: before?.productId ?? ctx.ids.next('zpr'),
      subscriptionNumber: subscription.subscriptionNumber,
      chargeNumber: spec.chargeNumber,
      family: spec.family,
      capacity: spec.capacity,
      unit: spec.unit,
      ...metaFor(ctx, name, before),
    };
    next.push(product);
    ops.push({
      kind: 'put',
      record: { entity: 'zuora-product', value: product },
      expectedVersion: before?.version ?? null,
    });
    ops.push({
      kind: 'putCharge',
      subscriptionNumber: subscription.subscriptionNumber,
      chargeNumber: spec.chargeNumber,
      unit: spec.unit,
    });
    changes.push({ zcharge: spec.chargeNumber, name, message: product.productId });
    eventChanges.push({
      change: name,
      product: productState(product),
      ...(before ? { previousCapacity: before.capacity } : {}),
    });
  }
  for (const before of current.products) {
    if (command.listMode === 'upsert' || wanted.has(before.chargeNumber)) continue;
    ops.push({
      kind: 'deleteProduct',
      subscriptionNumber: subscription.subscriptionNumber,
      chargeNumber: before.chargeNumber,
      expectedVersion: before.version,
    });
    ops.push({
      kind: 'removeCharge',
      subscriptionNumber: subscription.subscriptionNumber,
      chargeNumber: before.chargeNumber,
    });
    changes.push({ zcharge: before.chargeNumber, name: 'DELETED', message: before.productId });
    eventChanges.push({ change: 'DELETED', product: productState(before) });
  }
  if (changes.length === 0) return noop('UPDATED', subscription.subscriptionId);

  const kinds = new Set(changes.map((c) => c.name));
  const name: OutcomeName = kinds.size === 1 ? changes[0]!.name : 'MODIFIED';
  // Bumping the subscription's version first serialises every change of one subscription (see planZlink).
  ops.unshift({
    kind: 'put',
    record: { entity: 'zuora-subscription', value: { ...subscription, ...metaFor(ctx, name, subscription) } },
    expectedVersion: subscription.version,
  });
  return {
    result: { success: true, name, message: subscription.subscriptionId, changes },
    ops,
    events: [
      {
        type: 'zuora.products.modified',
        detail: {
          tenant: ctx.tenant,
          eventId: eventId(ctx),
          emitter: ctx.emitter,
          accountNumber: command.accountNumber,
          subscriptionId: subscription.subscriptionId,
          subscriptionNumber: subscription.subscriptionNumber,
          changes: eventChanges,
          products: next.map(productState),
        },
      },
    ],
  };
}

/** CREATED for a new charge, UPGRADED for a pure capacity increase, MODIFIED otherwise, or none. */
function productChange(before: ZuoraProduct | undefined, spec: ProductSpec): OutcomeName | undefined {
  if (!before) return 'CREATED';
  if (before.family === spec.family && before.unit === spec.unit && before.capacity === spec.capacity) {
    return undefined;
  }
  if (before.family === spec.family && compareCapacity(before, spec) === 1) return 'UPGRADED';
  return 'MODIFIED';
}

function planZlink(command: Cmd<'ZLINKUPDATED'>, state: PlanState, ctx: PlanContext): Plan {
  if (!state.client) return fail('NOT_FOUND', `client ${command.accountNumber} not found`);
  const current = state.subscription;
  if (!current || current.subscription.accountNumber !== command.accountNumber) {
    return fail(
      'NOT_FOUND',
      `subscription ${command.subscriptionNumber} not found for client ${command.accountNumber}`,
    );
  }
  const before = current.products.find((p) => p.chargeNumber === command.chargeNumber);
  if (!before) {
    return fail(
      'NOT_FOUND',
      `charge ${command.chargeNumber} not found in subscription ${command.subscriptionNumber}`,
    );
  }
  const direction = compareCapacity(before, command);
  if (direction === undefined) {
    return fail('UNPROCESSABLE_ENTITY', `unit ${command.unit} cannot replace unit ${before.unit}`);
  }
  if (direction < 0) return fail('UNPROCESSABLE_ENTITY', 'event downgrade or so is not in scope');
  if (direction === 0) return noop('UPDATED', before.productId);
  const product: ZuoraProduct = {
    ...before,
    capacity: command.capacity,
    unit: command.unit,
    ...metaFor(ctx, 'UPGRADED', before),
  };
  const { subscription } = current;
  return {
    result: { success: true, name: 'UPGRADED', message: product.productId },
    ops: [
      // Every change under a subscription bumps it first: a conflict then always happens before
      // anything is written, so re-planning after one never loses half a change (or its event).
      {
        kind: 'put',
        record: {
          entity: 'zuora-subscription',
          value: { ...subscription, ...metaFor(ctx, 'UPGRADED', subscription) },
        },
        expectedVersion: subscription.version,
      },
      { kind: 'put', record: { entity: 'zuora-product', value: product }, expectedVersion: before.version },
      {
        kind: 'putCharge',
        subscriptionNumber: command.subscriptionNumber,
        chargeNumber: command.chargeNumber,
        unit: command.unit,
      },
    ],
    events: [
      {
        type: 'zuora.capacity.upgraded',
        detail: {
          tenant: ctx.tenant,
          eventId: eventId(ctx),
          emitter: ctx.emitter,
          accountNumber: command.accountNumber,
          subscriptionId: current.subscription.subscriptionId,
          subscriptionNumber: command.subscriptionNumber,
          previousCapacity: before.capacity,
          product: productState(product),
        },
      },
    ],
  };
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
