import * as z from 'zod';
import type { UsageShards } from '../db/entities/usage-records.ts';

/**
 * Usage settings shared by the submission and billing functions (they must agree on shard counts and
 * windows). Set in the manifest (`infra/wiring/usage.ts`); all have defaults.
 */
export const usageEnvSchema = z.object({
  USAGE_LATE_WINDOW_DAYS: z.coerce.number().int().min(1).max(365).default(35),
  USAGE_RETENTION_DAYS: z.coerce.number().int().min(30).max(3650).default(400),
  USAGE_GROUP_SHARDS: z.coerce.number().int().min(1).max(256).default(8),
  USAGE_PERIOD_SHARDS: z.coerce.number().int().min(1).max(1024).default(32),
});
export type UsageEnv = z.infer<typeof usageEnvSchema>;

export const usageShards = (env: UsageEnv): UsageShards => ({
  group: env.USAGE_GROUP_SHARDS,
  period: env.USAGE_PERIOD_SHARDS,
});
