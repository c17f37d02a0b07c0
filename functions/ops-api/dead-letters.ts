import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import * as z from 'zod';
import type { Clock } from '../../shared/clock.ts';
import { NotFoundError, UnprocessableError } from '../../shared/errors.ts';

/**
 * Dead-letter queues through the SQS API (and, locally, the emulated queues that serve the same
 * calls): depth from `GetQueueAttributes`, the oldest message's age from CloudWatch's
 * `ApproximateAgeOfOldestMessage` (SQS has no such attribute), a peek of the first messages, and a
 * redrive with `StartMessageMoveTask` back to the queue the messages died in.
 */
export const deadLetterQueuesSchema = z.array(
  z.object({ name: z.string(), url: z.string(), arn: z.string(), sourceArn: z.string().optional() }),
);
export type DeadLetterQueueRef = z.infer<typeof deadLetterQueuesSchema>[number];

export interface DeadLetterDeps {
  deadLetterQueues: DeadLetterQueueRef[];
  sqs: Pick<SQSClient, 'send'>;
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  clock: Clock;
}

const queueNameOf = (url: string) => url.split('/').pop() ?? url;

async function oldestAgeSeconds(q: DeadLetterQueueRef, deps: DeadLetterDeps): Promise<number | null> {
  const now = deps.clock.now();
  try {
    const res = await deps.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - 15 * 60_000),
        EndTime: now,
        MetricDataQueries: [
          {
            Id: 'age',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/SQS',
                MetricName: 'ApproximateAgeOfOldestMessage',
                Dimensions: [{ Name: 'QueueName', Value: queueNameOf(q.url) }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
      }),
    );
    const values = res.MetricDataResults?.[0]?.Values ?? [];
    return values.length ? Math.max(...values) : null;
  } catch {
    return null; // the age is a nicety; depth and redrive do not depend on it
  }
}

/**
 * Every DLQ with its depth, oldest message age and last redrive. A queue SQS cannot answer for is
 * listed with `depth: null` and `unavailable: true` (the rest of the dashboard still shows).
 */
export async function listDeadLetters(deps: DeadLetterDeps) {
  return Promise.all(
    deps.deadLetterQueues.map(async (q) => {
      const settled = await Promise.allSettled([
        deps.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: q.url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        ),
        oldestAgeSeconds(q, deps),
        deps.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.arn, MaxResults: 1 })),
      ]);
      // Every call has finished (settled) before the answer, whether or not one failed.
      const answers = settled.every((r) => r.status === 'fulfilled')
        ? (settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
            Awaited<ReturnType<SQSClient['send']>> & { Attributes?: Record<string, string> },
            number | null,
            {
              Results?: Array<{
                Status?: string;
                ApproximateNumberOfMessagesMoved?: number;
                StartedTimestamp?: number;
              }>;
            },
          ])
        : undefined;
      if (!answers) {
        return {
          name: q.name,
          depth: null,
          inFlight: null,
          oldestAgeSeconds: null,
          redrivable: false,
          unavailable: true,
        };
      }
      const [attrs, age, tasks] = answers;
      const last = tasks.Results?.[0];
      return {
        name: q.name,
        depth: Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
        oldestAgeSeconds: age,
        redrivable: q.sourceArn !== undefined,
        ...(last
          ? {
              lastRedrive: {
                status: last.Status,
                moved: last.ApproximateNumberOfMessagesMoved ?? 0,
                startedAt: last.StartedTimestamp ? new Date(last.StartedTimestamp).toISOString() : undefined,
              },
            }
          : {}),
      };
    }),
  );
}

function find(name: string, deps: DeadLetterDeps): DeadLetterQueueRef {
  const q = deps.deadLetterQueues.find((d) => d.name === name);
  if (!q) throw new NotFoundError(`No dead-letter queue ${name}.`, 'QUEUE_NOT_FOUND');
  return q;
}

/**
 * The first messages of a DLQ, left where they are (visibility timeout 0). Bodies are cut at 2 KB:
 * they are hub events (ids and statuses), shown so an operator can see what died before redriving.
 */
export async function peekDeadLetters(name: string, deps: DeadLetterDeps) {
  const q = find(name, deps);
  const res = await deps.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: q.url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
    }),
  );
  return {
    name,
    messages: (res.Messages ?? []).map((m) => ({
      id: m.MessageId,
      sentAt: m.Attributes?.SentTimestamp
        ? new Date(Number(m.Attributes.SentTimestamp)).toISOString()
        : undefined,
      body: (m.Body ?? '').slice(0, 2048),
    })),
  };
}

/** Starts moving every message of the DLQ back to its source queue. */
export async function redriveDeadLetters(name: string, deps: DeadLetterDeps) {
  const q = find(name, deps);
  if (!q.sourceArn) {
    throw new UnprocessableError(
      `${name} collects undeliverable rule or schedule targets; it has no source queue to move them back to.`,
      'NOT_REDRIVABLE',
    );
  }
  const res = await deps.sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: q.arn, DestinationArn: q.sourceArn }),
  );
  return { name, taskHandle: res.TaskHandle, startedAt: deps.clock.now().toISOString() };
}
