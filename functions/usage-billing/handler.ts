import type { Context, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { sqsBatchProcessor } from '../../shared/events/consumer.ts';
import { parseScheduledInput } from '../../shared/events/scheduled.ts';
import { instrumented } from '../../shared/telemetry.ts';
import { billingDepsFromEnv } from './deps.ts';
import { runBilling } from './run-billing.ts';

const deps = billingDepsFromEnv();

/** Runs started with `POST /v1/usage/billing-runs` arrive through the queue. */
const fromQueue = sqsBatchProcessor({
  parse: (body) => z.object({ runId: z.string() }).parse(JSON.parse(body)),
  handle: async (m) => void (await runBilling({ runId: m.runId, trigger: 'api' }, deps)),
});

/** Entry: an SQS batch (API-started runs) or the EventBridge Scheduler input (daily run). */
export const handler = instrumented(async (event: unknown, context: Context) => {
  if (typeof event === 'object' && event !== null && Array.isArray((event as SQSEvent).Records)) {
    return fromQueue(event as SQSEvent, context);
  }
  parseScheduledInput(event);
  const run = await runBilling({ trigger: 'schedule' }, deps);
  return { runId: run.id, status: run.status, stats: run.stats };
});
