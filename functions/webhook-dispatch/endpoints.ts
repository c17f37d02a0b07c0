import type { Clock } from '../../shared/clock.ts';
import type {
  WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';
import { type ErrorDetail, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { eventDefinition } from '../../shared/events/catalog/index.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import type { SecretBox } from '../../shared/webhooks/secret-box.ts';
import { generateSecret } from '../../shared/webhooks/signing.ts';
import { urlProblem } from '../../shared/webhooks/url-policy.ts';
import type { CreateEndpointInput, UpdateEndpointInput } from './schema.ts';

export interface Caller {
  tenant: string;
  scopes: string[];
}

export interface EndpointDeps {
  endpoints: Pick<WebhookEndpointRepository, 'create' | 'get' | 'list' | 'update' | 'delete'>;
  clock: Clock;
  ids: IdGenerator;
  stage: string;
  /** Seals secrets before they are stored. */
  secrets: SecretBox;
}

export const DEFAULT_RATE_LIMIT = 10;
/** After a rotation the old secret keeps signing this long, so receivers can switch without loss. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

/** The API view of an endpoint: never the stored secrets (shown once, at creation and rotation). */
export function endpointView(ep: WebhookEndpoint) {
  return {
    id: ep.id,
    url: ep.url,
    eventTypes: ep.eventTypes,
    ...(ep.description !== undefined ? { description: ep.description } : {}),
    rateLimitPerSecond: ep.rateLimitPerSecond,
    status: ep.status,
    ...(ep.disabledReason ? { disabledReason: ep.disabledReason, disabledAt: ep.disabledAt } : {}),
    allEvents: ep.allEvents,
    ...(ep.failingSince ? { failingSince: ep.failingSince } : {}),
    createdAt: ep.createdAt,
    updatedAt: ep.updatedAt,
  };
}

function checkUrl(url: string, stage: string): void {
  const problem = urlProblem(url, { stage });
  if (problem)
    throw new ValidationError(`The url ${problem}.`, [{ field: 'url', message: problem }], 'INVALID_URL');
}

/** Exact filters must name a public event type (a typo would silently receive nothing). */
function checkEventTypes(types: string[]): void {
  const details: ErrorDetail[] = [];
  types.forEach((t, i) => {
    if (t === '*' || t.endsWith('.*')) return;
    if (!eventDefinition(t)?.public)
      details.push({ field: `eventTypes.${i}`, message: `${t} is not a public event type` });
  });
  if (details.length)
    throw new ValidationError(`Unknown event type: ${details[0]!.message}.`, details, 'UNKNOWN_EVENT_TYPE');
}

async function mustGet(deps: EndpointDeps, tenant: string, id: string): Promise<WebhookEndpoint> {
  const ep = /^ep_[0-9A-Z]{26}$/.test(id) ? await deps.endpoints.get(tenant, id) : undefined;
  // Another tenant's id is simply not found in this tenant's partition: 404, never 403.
  if (!ep) throw new NotFoundError(`No webhook endpoint ${id}.`, 'ENDPOINT_NOT_FOUND');
  return ep;
}

/** Registers an endpoint; the answer is the only time its secret is shown (with rotation). */
export async function createEndpoint(input: CreateEndpointInput, caller: Caller, deps: EndpointDeps) {
  checkUrl(input.url, deps.stage);
  checkEventTypes(input.eventTypes);
  const now = deps.clock.now().toISOString();
  const secret = generateSecret();
  const id = deps.ids.next('ep');
  const endpoint: WebhookEndpoint = {
    id,
    tenant: caller.tenant,
    url: input.url,
    eventTypes: [...new Set(input.eventTypes)],
    ...(input.description !== undefined ? { description: input.description } : {}),
    rateLimitPerSecond: input.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT,
    status: 'enabled',
    allEvents: caller.scopes.includes('webhooks:all-events'),
    secret: await deps.secrets.seal(secret, { tenant: caller.tenant, endpointId: id }),
    createdAt: now,
    updatedAt: now,
  };
  await deps.endpoints.create(endpoint);
  return { ...endpointView(endpoint), secret };
}

export async function getEndpoint(id: string, caller: Caller, deps: EndpointDeps) {
  return endpointView(await mustGet(deps, caller.tenant, id));
}

export async function listEndpoints(
  q: { limit: number; cursor?: string },
  caller: Caller,
  deps: EndpointDeps,
) {
  const page = await deps.endpoints.list(caller.tenant, q);
  return { items: page.items.map(endpointView), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

/** Changes url, filters, description, rate or status. Re-enabling starts a fresh failure count. */
export async function updateEndpoint(
  id: string,
  input: UpdateEndpointInput,
  caller: Caller,
  deps: EndpointDeps,
) {
  await mustGet(deps, caller.tenant, id);
  if (input.url !== undefined) checkUrl(input.url, deps.stage);
  if (input.eventTypes !== undefined) checkEventTypes(input.eventTypes);
  const now = deps.clock.now().toISOString();
  const remove: Array<'disabledReason' | 'disabledAt' | 'disabledNotified' | 'failingSince'> = [];
  const patch: Parameters<EndpointDeps['endpoints']['update']>[2] = {
    updatedAt: now,
    ...(input.url !== undefined ? { url: input.url } : {}),
    ...(input.eventTypes !== undefined ? { eventTypes: [...new Set(input.eventTypes)] } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.rateLimitPerSecond !== undefined ? { rateLimitPerSecond: input.rateLimitPerSecond } : {}),
  };
  if (input.status === 'enabled') {
    patch.status = 'enabled';
    remove.push('disabledReason', 'disabledAt', 'disabledNotified', 'failingSince');
  } else if (input.status === 'disabled') {
    Object.assign(patch, { status: 'disabled', disabledReason: 'manual', disabledAt: now });
  }
  const updated = await deps.endpoints.update(caller.tenant, id, patch, { remove });
  if (!updated) throw new NotFoundError(`No webhook endpoint ${id}.`, 'ENDPOINT_NOT_FOUND');
  return endpointView(updated);
}

export async function deleteEndpoint(id: string, caller: Caller, deps: EndpointDeps): Promise<void> {
  await mustGet(deps, caller.tenant, id);
  if (!(await deps.endpoints.delete(caller.tenant, id))) {
    throw new NotFoundError(`No webhook endpoint ${id}.`, 'ENDPOINT_NOT_FOUND');
  }
}

/** New secret; the current one keeps signing alongside it for 24 h (multi-signature header). */
export async function rotateSecret(id: string, caller: Caller, deps: EndpointDeps) {
  const ep = await mustGet(deps, caller.tenant, id);
  const now = deps.clock.now();
  const secret = generateSecret();
  const previousSecretExpiresAt = new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString();
  // The stored (sealed) current secret becomes the previous one as is: no need to open it.
  const updated = await deps.endpoints.update(caller.tenant, id, {
    secret: await deps.secrets.seal(secret, { tenant: caller.tenant, endpointId: id }),
    previousSecret: ep.secret,
    previousSecretExpiresAt,
    updatedAt: now.toISOString(),
  });
  if (!updated) throw new NotFoundError(`No webhook endpoint ${id}.`, 'ENDPOINT_NOT_FOUND');
  return { id, secret, previousSecretExpiresAt };
}

export { mustGet as requireEndpoint };
