import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { coalescer } from '../db/batching.ts';
import { TransientError } from '../errors.ts';
import { awsClient } from '../telemetry.ts';

/** Body of a delivery queue message: which delivery to look at, and the due item that woke it. */
export const deliveryMessageSchema = z.object({
  deliveryId: z.string().min(1),
  dueKey: z.string().min(1),
  /** How many times in a row this wake-up met its endpoint's rate limit (backs off). */
  throttled: z.number().int().min(0).max(100).optional(),
});
export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

/** SQS caps DelaySeconds at 15 minutes; longer waits are chained (or swept) from DynamoDB state. */
export const MAX_DELAY_SECONDS = 900;

export interface DeliveryQueue {
  /** Enqueues messages, each visible after `delaySeconds` (clamped to 0…900). */
  enqueue(messages: Array<DeliveryMessage & { delaySeconds?: number }>): Promise<void>;
}

/**
 * The delivery queue through the AWS SDK (`QUEUE_WEBHOOK_DELIVERY_URL`). Messages enqueued by
 * concurrent work in one turn of the event loop (the records of a fan-out batch) go out together,
 * ten per SendMessageBatch; each caller learns whether its own messages were taken.
 */
export function sqsDeliveryQueue(
  queueUrl: string,
  client = awsClient(SQSClient, { maxAttempts: 4 }),
): DeliveryQueue {
  const send = coalescer<DeliveryMessage & { delaySeconds?: number }, string | undefined>({
    max: 10,
    run: async (chunk) => {
      const result = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((m, idx) => ({
            Id: String(idx),
            MessageBody: JSON.stringify({
              deliveryId: m.deliveryId,
              dueKey: m.dueKey,
              ...(m.throttled ? { throttled: m.throttled } : {}),
            }),
            DelaySeconds: Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.ceil(m.delaySeconds ?? 0))),
          })),
        }),
      );
      const failed = new Map((result.Failed ?? []).map((f) => [f.Id, f.Message ?? f.Code ?? 'refused']));
      return chunk.map((_, idx) => failed.get(String(idx)));
    },
  });
  return {
    async enqueue(messages) {
      const refusals = (await Promise.all(messages.map(send))).filter((r) => r !== undefined);
      if (refusals.length) {
        // The caller's own message is retried; the DynamoDB due item makes the sweeper a backstop.
        throw new TransientError(`SQS refused ${refusals.length} delivery messages`);
      }
    },
  };
}
