import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { logger } from '../logger.ts';
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

/**
 * SQS consumer with partial batch failure (Powertools batch): each record is handled on its own; a
 * record that throws is reported in `batchItemFailures` and retried by SQS until its queue's
 * `maxReceiveCount` sends it to the DLQ. Errors are never swallowed.
 */
export function sqsHandler<T>(options: {
  parse: (body: string, record: SQSRecord) => T;
  handle: (message: T, record: SQSRecord, context: Context) => Promise<void>;
}) {
  const processor = new BatchProcessor(EventType.SQS);
  const base = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        logger.appendKeys({
          message_id: record.messageId,
          receive_count: record.attributes?.ApproximateReceiveCount,
        });
        try {
          await options.handle(options.parse(record.body, record), record, context);
        } catch (error) {
          logger.warn('record failed; SQS will retry it', { error });
          throw error;
        } finally {
          logger.removeKeys(['message_id', 'receive_count']);
        }
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
  // Never log the invocation event (whatever POWERTOOLS_LOGGER_LOG_EVENT says): its body is a string
  // redaction cannot see into, carrying client secrets and customers' personal data.
  return middy(base).use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }));
}

/** Shorthand for rule-target queues: the body is an EventBridge event from the hub bus. */
export function busEventHandler(
  handle: (event: ReceivedEvent, record: SQSRecord, context: Context) => Promise<void>,
) {
  return sqsHandler({ parse: parseBusEvent, handle });
}
