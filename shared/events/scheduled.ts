import * as z from 'zod';

/**
 * What a scheduled function receives. EventBridge Scheduler passes exactly the schedule's `Input`
 * (the manifest sets `{schedule, scheduleArn, scheduledTime}` with Scheduler's context keywords); a
 * classic EventBridge scheduled rule sends its envelope. Both are accepted.
 */
const schedulerInputSchema = z.object({
  schedule: z.string(),
  scheduleArn: z.string().optional(),
  scheduledTime: z.string().optional(),
});
const scheduledRuleSchema = z.object({
  'detail-type': z.literal('Scheduled Event'),
  source: z.literal('aws.events'),
  time: z.string(),
  resources: z.array(z.string()).default([]),
});

export interface ScheduledInvocation {
  schedule: string;
  scheduledTime: string | undefined;
}

export function parseScheduledInput(event: unknown): ScheduledInvocation {
  const direct = schedulerInputSchema.safeParse(event);
  if (direct.success) return { schedule: direct.data.schedule, scheduledTime: direct.data.scheduledTime };
  const rule = scheduledRuleSchema.parse(event);
  const ruleName = rule.resources[0]?.split('/').pop() ?? 'scheduled-rule';
  return { schedule: ruleName, scheduledTime: rule.time };
}

/** The input the manifest gives every schedule (Scheduler substitutes the `<aws.scheduler.*>` keywords). */
export const schedulerInputTemplate = (name: string) => ({
  schedule: name,
  scheduleArn: '<aws.scheduler.schedule-arn>',
  scheduledTime: '<aws.scheduler.scheduled-time>',
});
