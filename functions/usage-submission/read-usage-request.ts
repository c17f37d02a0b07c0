import { jsonBody, mediaType, parseJsonText, readBody, validate } from '../../shared/http/body.ts';
import type { HttpRequest } from '../../shared/http/types.ts';
import {
  cloudEventBatchSchema,
  MAX_RECORDS_PER_REQUEST,
  startRunSchema,
  usageBatchSchema,
} from './schema.ts';
import { cloudEventToRecord } from './submit-usage.ts';

export const USAGE_CONTENT_TYPES = [
  'application/json',
  'application/cloudevents-batch+json',
  'application/cloudevents+json',
];
export const MAX_USAGE_BODY_BYTES = 256 * 1024;

/**
 * Reads `POST /v1/usage`: `application/json` `{records:[…]}` (or a bare array), a CloudEvents 1.0
 * batch (`application/cloudevents-batch+json`) or one structured CloudEvent. Malformed envelopes are
 * a 400 for the whole request; each record is validated later on its own.
 */
export function readUsageRequest(req: HttpRequest): Array<{ record?: unknown; error?: string }> {
  const body = parseJsonText(
    readBody(req, { contentTypes: USAGE_CONTENT_TYPES, maxBytes: MAX_USAGE_BODY_BYTES }),
  );
  const type = mediaType(req);
  if (type === 'application/cloudevents-batch+json') {
    return validate(cloudEventBatchSchema, body).map(cloudEventToRecord);
  }
  if (type === 'application/cloudevents+json') return [cloudEventToRecord(body)];
  const records = Array.isArray(body)
    ? validate(usageBatchSchema.shape.records, body, `The body (at most ${MAX_RECORDS_PER_REQUEST} records)`)
    : validate(usageBatchSchema, body).records;
  return records.map((record) => ({ record }));
}

/**
 * Reads `POST /v1/usage/billing-runs`: no body (the usual call) or the empty JSON object the manifest
 * declares. Anything else (malformed JSON, another content type, unknown fields, oversized) is refused
 * before a run is recorded or queued, so a mistyped request never starts billing.
 */
export function readStartRunRequest(req: HttpRequest): Record<string, never> {
  if (req.rawBody === undefined || req.rawBody.trim() === '') return {};
  return jsonBody(req, startRunSchema, { maxBytes: 1024 });
}
