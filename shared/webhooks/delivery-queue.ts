import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
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

/** The delivery queue through the AWS SDK (`QUEUE_WEBHOOK_DELIVERY_URL`); batches of ten. */
export function sqsDeliveryQueue(
  queueUrl: string,
  client = awsClient(SQSClient, { maxAttempts: 4 }),
): DeliveryQueue {
  return {
    async enqueue(messages) {
      for (let i = 0; i < messages.length; i += 10) {
        const chunk = messages.slice(i, i + 10);
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
        if (result.Failed?.length) {
          // The caller's own message is retried; the DynamoDB due item makes the sweeper a backstop.
          throw new TransientError(`SQS refused ${result.Failed.length} delivery messages`);
        }
      }
    },
  };
}
