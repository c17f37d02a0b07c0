import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger.ts';

/**
 * Tracing and metrics of every function, wired once here and applied by the shared wrappers
 * (`httpHandler`, `sqsHandler`/`busEventHandler`, `scheduledHandler`), so a function built on them
 * is traced and measured without code of its own.
 *
 * - Powertools Tracer: a `## index.handler` subsegment per invocation (cold start and service
 *   annotations, errors as metadata, responses never captured: they carry customers' data), one
 *   subsegment per SQS record, and a subsegment per AWS call of every client made with `awsClient`.
 *   Outgoing HTTP is not captured globally (partner URLs can carry credentials, e.g. a webhook
 *   endpoint's query string); partner calls are traced by `traced`, named by host only.
 * - Powertools Metrics (EMF, namespace `Switchboard`, dimension `service` = the function): the
 *   capability counters and latencies of `MetricName`, flushed once per invocation, plus a
 *   `ColdStart` metric. Nothing is written when an invocation recorded no metric.
 *
 * Outside Lambda (no `AWS_EXECUTION_ENV`: the local runtime, tests, benches) the tracer is not even
 * loaded: the X-Ray SDK installs process-wide async hooks (cls-hooked) that tax every promise, and
 * Powertools would keep tracing off there anyway. Locally EMF output is disabled by
 * `POWERTOOLS_METRICS_DISABLED`.
 */
const inLambda = !!process.env.AWS_EXECUTION_ENV && process.env.POWERTOOLS_TRACE_ENABLED !== 'false';
const tracing = inLambda
  ? {
      tracer: new (await import('@aws-lambda-powertools/tracer')).Tracer({ captureHTTPsRequests: false }),
      captureLambdaHandler: (await import('@aws-lambda-powertools/tracer/middleware')).captureLambdaHandler,
    }
  : undefined;

/** The Powertools Tracer, or undefined outside Lambda. */
export const tracer: Tracer | undefined = tracing?.tracer;

let metricsInstance: Metrics | undefined;

/**
 * The Powertools Metrics of this function, created on first use: by then the environment it reads
 * (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_DISABLED`…) is the function's, also locally where
 * the runtime sets it after the shared modules are loaded.
 */
export function metrics(): Metrics {
  metricsInstance ??= new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Switchboard' });
  return metricsInstance;
}

/** The capability metrics (one name per outcome, so one invocation's values aggregate in one EMF line). */
export type MetricName =
  | 'OrdersAccepted'
  | 'OrdersNeedsReview'
  | 'OrdersReceived'
  | 'OrdersRejected'
  | 'OrdersFulfilled'
  | 'OrdersFailed'
  | 'OrderPipelineLatency'
  | 'WebhookDeliveriesCreated'
  | 'WebhookDeliveriesSucceeded'
  | 'WebhookDeliveriesFailed'
  | 'WebhookDeliveryRetries'
  | 'WebhookDeliveryLatency'
  | 'WebhookDeliveryAge'
  | 'UsageRecordsAccepted'
  | 'UsageRecordsDuplicate'
  | 'UsageRecordsRejected'
  | 'UsageLinesBilled'
  | 'UsageBillingSlicesPlanned'
  | 'UsageBillingFailures'
  | 'ZuoraEventItems'
  | 'ZuoraEventLatency';

/** Adds `value` to a counter of this invocation. */
export function count(name: MetricName, value = 1): void {
  if (value > 0) metrics().addMetric(name, MetricUnit.Count, value);
}

/** Records a duration of this invocation (milliseconds; each call is one sample). */
export function milliseconds(name: MetricName, value: number): void {
  if (Number.isFinite(value) && value >= 0)
    metrics().addMetric(name, MetricUnit.Milliseconds, Math.round(value));
}

/**
 * A metric with its own dimensions (bounded values only: an event type, an outcome, a channel —
 * never an id), written at once as its own EMF line.
 */
export function dimensioned(
  name: MetricName,
  unit: 'Count' | 'Milliseconds',
  value: number,
  dimensions: Record<string, string>,
): void {
  const single = metrics().singleMetric();
  single.addDimensions(dimensions);
  single.addMetric(name, unit === 'Count' ? MetricUnit.Count : MetricUnit.Milliseconds, value);
}

/** Trace annotations (indexed, searchable in X-Ray): ids and types only, never personal data. */
export interface Annotations {
  tenant?: string;
  orderId?: string;
  eventType?: string;
  route?: string;
  channel?: string;
  endpointId?: string;
  deliveryId?: string;
  statusCode?: number;
  outcome?: string;
}

/** Annotates the current (sub)segment: the invocation's, or the SQS record's inside a consumer. */
export function annotate(annotations: Annotations): void {
  if (!tracer?.isTracingEnabled()) return;
  for (const [key, value] of Object.entries(annotations)) {
    if (value !== undefined && value !== '') tracer.putAnnotation(key, value);
  }
}

/**
 * Runs `fn` in its own subsegment (a partner call, an SQS record): errors are recorded on it and
 * rethrown. Without tracing it is a plain call.
 */
export async function traced<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!tracer?.isTracingEnabled()) return fn();
  return tracer.provider.captureAsyncFunc(name, async (subsegment) => {
    try {
      return await fn();
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    } finally {
      subsegment?.close();
    }
  }) as Promise<T>;
}

/**
 * Creates an AWS SDK v3 client captured by the tracer (one subsegment per call, with the service,
 * operation, request id and retries). Every AWS client of the hub is made here.
 */
export function awsClient<C extends object, Config>(Client: new (config: Config) => C, config: Config): C {
  const client = new Client(config);
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/**
 * Writes the `ColdStart` metric on the first invocation (Powertools knows which) and flushes the
 * invocation's metrics after it, only if it recorded any (Powertools warns on an empty flush).
 */
function flushMetrics(): MiddlewareObj {
  const flush = () => {
    if (metrics().hasStoredMetrics()) metrics().publishStoredMetrics();
  };
  return {
    before: (request) => metrics().captureColdStartMetric(request.context?.functionName),
    after: flush,
    onError: flush,
  };
}

/**
 * The middleware stack of every Switchboard handler: Powertools logger context (never logging the
 * event: its body is a string redaction cannot see into), the tracer's handler subsegment, metrics.
 */
export function instrumented<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  const stack = middy(handler).use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }));
  if (tracing) stack.use(tracing.captureLambdaHandler(tracing.tracer, { captureResponse: false }));
  return stack.use(flushMetrics());
}
