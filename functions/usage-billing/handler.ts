import type { Context, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { sqsBatchProcessor } from '../../shared/events/consumer.ts';
import { parseScheduledInput } from '../../shared/events/scheduled.ts';
import { instrumented } from '../../shared/telemetry.ts';
import { planDepsFromEnv } from './deps.ts';
import { planBillingRun } from './run-billing.ts';

const deps = planDepsFromEnv();

/** Runs started with `POST /v1/usage/billing-runs` arrive through the queue. */
const fromQueue = sqsBatchProcessor({
  parse: (body) => z.object({ runId: z.string() }).parse(JSON.parse(body)),
  handle: async (m) => void (await planBillingRun({ runId: m.runId, trigger: 'api' }, deps)),
});

/**
 * The billing run's planner. Entry: an SQS batch (API-started runs) or the EventBridge Scheduler
 * input (daily run). It plans the run's slices and sends them to `usage-billing-worker`.
 */
export const handler = instrumented(async (event: unknown, context: Context) => {
  if (typeof event === 'object' && event !== null && Array.isArray((event as SQSEvent).Records)) {
    return fromQueue(event as SQSEvent, context);
  }
  parseScheduledInput(event);
  const run = await planBillingRun({ trigger: 'schedule' }, deps);
  return { runId: run.id, status: run.status, slices: run.slices };
});
