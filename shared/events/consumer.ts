import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { logger } from '../logger.ts';
import { annotate, instrumented, traced } from '../telemetry.ts';
import { eventDefinition } from './catalog/index.ts';

/** An EventBridge event delivered through a rule target queue, with its detail validated. */
export interface ReceivedEvent<D = Record<string, unknown>> {
  id: string;
  type: string;
  source: string;
  time: string;
  detail: D;
}

/**
 * The EventBridge envelope (the fields of Powertools' `EventBridgeSchema`, which tests compare it with).
 * Declared here rather than imported from the Powertools parser: its schemas import zod's whole `z`
 * namespace (every locale, JSON Schema conversion), ~350 KB more in every consumer bundle.
 */
const eventBridgeEnvelopeSchema = z.object({
  version: z.string(),
  id: z.string(),
  source: z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  'detail-type': z.string(),
  detail: z.unknown(),
  'replay-name': z.string().optional(),
});

/** Parses an SQS body holding an EventBridge event and validates its detail against the catalog. */
export function parseBusEvent(body: string): ReceivedEvent {
  const envelope = eventBridgeEnvelopeSchema.parse(JSON.parse(body));
  const definition = eventDefinition(envelope['detail-type']);
  const detail = definition ? definition.schema.parse(envelope.detail) : envelope.detail;
  return {
    id: envelope.id,
    type: envelope['detail-type'],
    source: envelope.source,
    time: envelope.time,
    detail: detail as Record<string, unknown>,
  };
}

/** What an SQS consumer does with each record. */
export interface SqsConsumerOptions<T> {
  parse: (body: string, record: SQSRecord) => T;
  handle: (message: T, record: SQSRecord, context: Context) => Promise<void>;
  /** Names the record's trace subsegment and annotates it (event type, tenant, order id). */
  describe?: (message: T) => { name: string; annotations?: Parameters<typeof annotate>[0] };
}

/**
 * Processes one SQS batch with partial batch failure (Powertools batch): each record is handled on
 * its own, in its own trace subsegment; a record that throws is reported in `batchItemFailures` and
 * retried by SQS until its queue's `maxReceiveCount` sends it to the DLQ. Errors are never
 * swallowed. The core of `sqsHandler`, for handlers that also take other events.
 */
export function sqsBatchProcessor<T>(options: SqsConsumerOptions<T>) {
  const processor = new BatchProcessor(EventType.SQS);
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          const message = options.parse(record.body, record);
          const about = options.describe?.(message);
          await traced(`### ${about?.name ?? 'record'}`, async () => {
            annotate({ ...about?.annotations });
            await options.handle(message, record, context);
          });
        } catch (error) {
          // The record's ids go on this line rather than on the shared logger: records of a batch
          // run side by side, so keys appended per record would be mixed up (and cost every record).
          logger.warn('record failed; SQS will retry it', {
            error,
            message_id: record.messageId,
            receive_count: record.attributes?.ApproximateReceiveCount,
          });
          throw error;
        }
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
}

/**
 * SQS consumer with partial batch failure (see `sqsBatchProcessor`), instrumented like every
 * handler (logger context without the event, tracer, metrics: `shared/telemetry.ts`).
 */
export function sqsHandler<T>(options: SqsConsumerOptions<T>) {
  return instrumented(sqsBatchProcessor(options));
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Shorthand for rule-target queues: the body is an EventBridge event from the hub bus. */
export function busEventHandler(
  handle: (event: ReceivedEvent, record: SQSRecord, context: Context) => Promise<void>,
) {
  return sqsHandler({
    parse: parseBusEvent,
    handle,
    describe: (event) => ({
      name: event.type,
      annotations: {
        eventType: event.type,
        tenant: text(event.detail.tenant),
        orderId: text(event.detail.orderId),
      },
    }),
  });
}
