import type { AccessClaims } from '../../shared/auth/jwt.ts';
import { OPERATOR_TENANT } from '../../shared/auth/operators.ts';
import type { Clock } from '../../shared/clock.ts';
import type { AuditEntry, OpsAuditLog } from '../../shared/db/entities/ops-audit.ts';
import { AUDIT_RETENTION_DAYS } from '../../shared/db/entities/ops-audit.ts';
import { AppError } from '../../shared/errors.ts';
import { jsonBody, queryParams } from '../../shared/http/body.ts';
import { type HttpRequest, type HttpResponse, json, type RouteHandler } from '../../shared/http/types.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { reviewDecisionSchema } from '../../shared/orders/contract.ts';
import { type SummarizeUsageDeps, summarizeUsage } from '../../shared/usage/summarize-usage.ts';
import { type DashboardDeps, dashboard } from './dashboard.ts';
import { listDeadLetters, peekDeadLetters, redriveDeadLetters } from './dead-letters.ts';
import { listSaashopEvents, type OpsMarketplaceDeps } from './marketplace.ts';
import { decideOrder, listOpsOrders, type OpsOrderDeps, orderTimeline } from './orders.ts';
import {
  emptyBodySchema,
  opsDashboardQuerySchema,
  opsDeliveriesQuerySchema,
  opsEndpointsQuerySchema,
  opsOrdersQuerySchema,
  opsPageQuerySchema,
  opsRunsQuerySchema,
  opsSaashopEventsQuerySchema,
  opsUsageSummaryQuerySchema,
} from './schema.ts';
import { listRuns, type OpsUsageDeps, runOutcome, startRun } from './usage.ts';
import {
  getOpsDelivery,
  listOpsDeliveries,
  listOpsEndpoints,
  type OpsWebhookDeps,
  replayOpsDelivery,
} from './webhooks.ts';

export type OpsDeps = OpsOrderDeps &
  Omit<OpsWebhookDeps, 'deliveries'> & {
    deliveries: OpsOrderDeps['deliveries'] & OpsWebhookDeps['deliveries'];
  } & DashboardDeps &
  OpsUsageDeps &
  OpsMarketplaceDeps &
  SummarizeUsageDeps & {
    audit: Pick<OpsAuditLog, 'put' | 'complete' | 'list'>;
    clock: Clock;
    ids: IdGenerator;
  };

/** Who is calling: the operator signed in to the console, or the client id of a script. */
export const actorOf = (p: AccessClaims) =>
  p.tenant === OPERATOR_TENANT && p.username
    ? { actor: p.username, actorType: 'operator' as const }
    : { actor: p.sub, actorType: 'client' as const };

const param = (req: HttpRequest, name: string) => req.pathParameters[name] ?? '';

/**
 * Every route is audited (who, what, when, outcome). A state-changing route writes its record
 * before acting, and completes it after, so a crash mid-action still leaves a trace.
 */
function audited(
  deps: OpsDeps,
  changesState: boolean,
  handler: RouteHandler,
  reasonOf?: (req: HttpRequest) => string | undefined,
): RouteHandler {
  return async (req) => {
    const now = deps.clock.now();
    const entry: AuditEntry = {
      id: deps.ids.next('aud'),
      at: now.toISOString(),
      ...actorOf(req.principal!),
      action: req.routeKey,
      // Caller input, kept short and as text: ids acted on, and the filters of a read.
      target: Object.fromEntries(
        Object.entries(req.pathParameters).map(([k, v]) => [k.slice(0, 40), v.slice(0, 100)]),
      ),
      ...(req.event.rawQueryString ? { query: req.event.rawQueryString.slice(0, 500) } : {}),
      outcome: 'started',
      correlationId: req.correlationId,
      expiresAt: Math.floor(now.getTime() / 1000) + AUDIT_RETENTION_DAYS * 86_400,
    };
    const reason = reasonOf?.(req);
    if (reason) entry.reason = reason;
    if (changesState) await deps.audit.put(entry);
    let res: HttpResponse;
    try {
      res = await handler(req);
    } catch (error) {
      const status = error instanceof AppError ? error.status : 500;
      const outcome = status < 500 ? 'refused' : 'failed';
      if (changesState) await deps.audit.complete(entry, outcome, status);
      else await deps.audit.put({ ...entry, outcome, status });
      throw error;
    }
    const outcome = res.statusCode < 400 ? 'succeeded' : 'refused';
    if (changesState) await deps.audit.complete(entry, outcome, res.statusCode);
    else await deps.audit.put({ ...entry, outcome, status: res.statusCode });
    return res;
  };
}

/** The reason of a review decision, for the audit record (the body is validated again by the route). */
const reasonOfBody = (req: HttpRequest) => {
  try {
    const r = (JSON.parse(req.rawBody ?? '{}') as { reason?: unknown }).reason;
    return typeof r === 'string' ? r.trim().slice(0, 500) || undefined : undefined;
  } catch {
    return undefined;
  }
};

/** A POST that takes no options: no body, or `{}`. */
const noOptions = (req: HttpRequest) => {
  if (req.rawBody && req.rawBody.trim() !== '') jsonBody(req, emptyBodySchema);
};

/** The route table of `ops-api` (keys are the manifest's route keys). */
export function opsRoutes(deps: OpsDeps): Record<string, RouteHandler> {
  const operator = (req: HttpRequest) => actorOf(req.principal!).actor;
  const read = (h: RouteHandler) => audited(deps, false, h);
  const write = (h: RouteHandler, reason?: (req: HttpRequest) => string | undefined) =>
    audited(deps, true, h, reason);
  const decide = (decision: 'clear' | 'reject') =>
    write(async (req) => {
      const { reason } = jsonBody(req, reviewDecisionSchema);
      return json(
        200,
        await decideOrder(
          { orderId: param(req, 'orderId'), decision, reason, operator: operator(req) },
          deps,
        ),
      );
    }, reasonOfBody);
  return {
    'GET /v1/ops/me': read(async (req) =>
      json(200, {
        ...actorOf(req.principal!),
        scopes: req.principal!.scopes,
        expiresAt: new Date(req.principal!.exp * 1000).toISOString(),
      }),
    ),
    'GET /v1/ops/dashboard': read(async (req) =>
      json(200, await dashboard(queryParams(req, opsDashboardQuerySchema).window, deps)),
    ),
    'GET /v1/ops/orders': read(async (req) =>
      json(200, await listOpsOrders(queryParams(req, opsOrdersQuerySchema), deps)),
    ),
    'GET /v1/ops/review-queue': read(async (req) =>
      json(
        200,
        await listOpsOrders(
          { ...queryParams(req, opsPageQuerySchema), status: 'NEEDS_REVIEW', oldestFirst: true },
          deps,
        ),
      ),
    ),
    'GET /v1/ops/orders/{orderId}': read(async (req) =>
      json(200, await orderTimeline(param(req, 'orderId'), deps)),
    ),
    'POST /v1/ops/orders/{orderId}/clear': decide('clear'),
    'POST /v1/ops/orders/{orderId}/reject': decide('reject'),
    'GET /v1/ops/channels/saashop/events': read(async (req) =>
      json(200, await listSaashopEvents(queryParams(req, opsSaashopEventsQuerySchema), deps)),
    ),
    'GET /v1/ops/dead-letters': read(async () => json(200, { items: await listDeadLetters(deps) })),
    'GET /v1/ops/dead-letters/{queue}': read(async (req) =>
      json(200, await peekDeadLetters(param(req, 'queue'), deps)),
    ),
    'POST /v1/ops/dead-letters/{queue}/redrive': write(async (req) => {
      noOptions(req);
      return json(202, await redriveDeadLetters(param(req, 'queue'), deps));
    }),
    'GET /v1/ops/webhooks/endpoints': read(async (req) =>
      json(200, await listOpsEndpoints(queryParams(req, opsEndpointsQuerySchema), deps)),
    ),
    'GET /v1/ops/webhooks/deliveries': read(async (req) =>
      json(200, await listOpsDeliveries(queryParams(req, opsDeliveriesQuerySchema), deps)),
    ),
    'GET /v1/ops/webhooks/deliveries/{deliveryId}': read(async (req) =>
      json(200, await getOpsDelivery(param(req, 'deliveryId'), deps)),
    ),
    'POST /v1/ops/webhooks/deliveries/{deliveryId}/replay': write(async (req) => {
      noOptions(req);
      return json(202, await replayOpsDelivery(param(req, 'deliveryId'), deps));
    }),
    'GET /v1/ops/usage/summary': read(async (req) =>
      json(200, await summarizeUsage(queryParams(req, opsUsageSummaryQuerySchema), deps)),
    ),
    'GET /v1/ops/billing-runs': read(async (req) =>
      json(200, await listRuns(queryParams(req, opsRunsQuerySchema).limit, deps)),
    ),
    'POST /v1/ops/billing-runs': write(async (req) => {
      noOptions(req);
      return json(202, await startRun(operator(req), deps));
    }),
    'GET /v1/ops/billing-runs/{id}': read(async (req) => json(200, await runOutcome(param(req, 'id'), deps))),
    'GET /v1/ops/audit': read(async (req) =>
      json(
        200,
        await deps.audit.list({ ...queryParams(req, opsPageQuerySchema), now: deps.clock.now(), days: 7 }),
      ),
    ),
  };
}
