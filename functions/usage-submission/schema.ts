import * as z from 'zod';

/** Request and response schemas of the usage routes (also used by the OpenAPI document). */

/** Codes, subscription numbers, charge numbers and units: no `#` (key separator), no control characters. */
const code = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^#\p{Cc}]+$/u, 'must not contain # or control characters');

export const MAX_RECORDS_PER_REQUEST = 500;

/** One usage record as sent (fields are validated one by one so each record is answered on its own). */
export const usageRecordSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^\s#]+$/, 'must not contain whitespace or #'),
    subscriptionNumber: code(100),
    chargeNumber: code(100),
    unit: code(64),
    quantity: z.number().finite().min(0),
    timestamp: z.iso.datetime({ offset: true }),
    attributes: z.record(z.string().max(100), z.string().max(1000)).optional(),
  })
  .strict();
export type UsageRecordInput = z.infer<typeof usageRecordSchema>;

/** `application/json` body: `{ "records": [ … ] }` (a bare array is accepted too). */
export const usageBatchSchema = z.object({
  records: z.array(z.unknown()).min(1, 'at least one record is required').max(MAX_RECORDS_PER_REQUEST),
});

/** `application/cloudevents-batch+json`: an array of CloudEvents 1.0 (structured JSON format). */
export const cloudEventSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    subject: z.string().nullish(),
    time: z.string().optional(),
    datacontenttype: z.string().optional(),
    data: z
      .object({
        subscriptionNumber: z.unknown().optional(),
        chargeNumber: z.unknown().optional(),
        unit: z.unknown().optional(),
        quantity: z.unknown().optional(),
        attributes: z.unknown().optional(),
      })
      .loose(),
  })
  .loose();
export const cloudEventBatchSchema = z
  .array(z.unknown())
  .min(1, 'at least one event is required')
  .max(MAX_RECORDS_PER_REQUEST);

export const recordResultSchema = z.object({
  index: z.number().int(),
  id: z.string().optional(),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  code: z.string().optional(),
  message: z.string().optional(),
});
export type RecordResult = z.infer<typeof recordResultSchema>;

export const submissionResponseSchema = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  results: z.array(recordResultSchema),
});

export const summaryQuerySchema = z
  .object({
    subscriptionNumber: code(100),
    period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
  })
  .strict();

export const summaryResponseSchema = z.object({
  subscriptionNumber: z.string(),
  period: z.string(),
  charges: z.array(
    z.object({
      chargeNumber: z.string(),
      unit: z.string(),
      records: z.number().int(),
      total: z.string(),
      billed: z.string(),
      pending: z.string(),
      inFlight: z.string(),
    }),
  ),
});

export const startRunSchema = z.object({}).strict();
