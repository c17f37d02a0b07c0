import * as z from 'zod';
import { sqsHandler } from '../../shared/events/consumer.ts';
import { billingDepsFromEnv } from './deps.ts';
import { billSlice } from './run-billing.ts';

const deps = billingDepsFromEnv();

const sliceSchema = z.object({
  runId: z.string(),
  period: z.string().regex(/^\d{4}-\d{2}$/),
  shard: z.number().int().min(0),
});

/**
 * `usage-billing-worker`: bills one (period, subscription shard) slice of a run per message (batch
 * size 1). A worker that dies mid-slice leaves its message to come back after the visibility
 * timeout; the slice is then re-done (delta against the billed total, the run's own in-flight
 * submissions taken over) and counted on the run once.
 */
export const handler = sqsHandler({
  parse: (body) => sliceSchema.parse(JSON.parse(body)),
  handle: async (m, record) =>
    void (await billSlice(m, deps, Number(record.attributes?.ApproximateReceiveCount ?? 1))),
  describe: (m) => ({ name: `slice ${m.period}#${m.shard}` }),
});
