import type { Context } from 'aws-lambda';
import { annotate, instrumented } from '../telemetry.ts';
import { parseScheduledInput, type ScheduledInvocation } from './scheduled.ts';

/**
 * Handler of a scheduled function (EventBridge Scheduler input, or a classic scheduled rule): the
 * input is parsed, the schedule's name annotates the trace, and the handler is instrumented like
 * every other (logger context, tracer, metrics: `shared/telemetry.ts`).
 */
export function scheduledHandler<R>(
  handle: (invocation: ScheduledInvocation, context: Context) => Promise<R>,
) {
  return instrumented(async (event: unknown, context: Context) => {
    const invocation = parseScheduledInput(event);
    annotate({ eventType: `schedule:${invocation.schedule}` });
    return handle(invocation, context);
  });
}
