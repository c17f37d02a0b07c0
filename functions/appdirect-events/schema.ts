import * as z from 'zod';
import { APPDIRECT_ERROR_CODES, type AppDirectErrorCode } from '../../shared/appdirect/answers.ts';
import { errorBodySchema } from '../../shared/contracts/errors.ts';
import type { AppError } from '../../shared/errors.ts';

/** `GET /v1/channels/appdirect/events?eventUrl=…`: the marketplace's notification. */
export const notificationQuerySchema = z
  .object({
    eventUrl: z
      .string()
      .min(1, 'is required')
      .max(2048, 'must be at most 2048 characters')
      .meta({ description: 'The event to fetch: {marketplace}/api/integration/v1/events/{eventId}' }),
  })
  .meta({ id: 'AppDirectNotificationQuery' });

export const appDirectAnswerSchema = z
  .object({
    success: z.boolean(),
    message: z.string().optional(),
    accountIdentifier: z.string().optional(),
    userIdentifier: z.string().optional(),
    id: z.string().optional(),
    errorCode: z.string().optional(),
    asynchronous: z.boolean().optional(),
  })
  .meta({ id: 'AppDirectAnswer' });

/** A refusal as documented (OpenAPI): what `appDirectErrorBody` answers. */
export const appDirectErrorDoc = z
  .object({
    success: z.literal(false),
    errorCode: z
      .enum(APPDIRECT_ERROR_CODES)
      .describe('AppDirect error code, shown in the marketplace event log'),
    message: z.string(),
    error: errorBodySchema.shape.error,
    details: errorBodySchema.shape.details,
  })
  .meta({ id: 'AppDirectError' });

/** The AppDirect error code of a refusal of the notification itself. */
const ERROR_CODES: Record<string, AppDirectErrorCode> = {
  EVENT_URL_REFUSED: 'FORBIDDEN',
  INVALID_EVENT: 'INVALID_RESPONSE',
  EVENT_NOT_FOUND: 'UNKNOWN_ERROR',
};

function errorCodeOf(error: AppError): AppDirectErrorCode {
  const byCode = ERROR_CODES[error.code];
  if (byCode) return byCode;
  if (error.status === 401) return 'UNAUTHORIZED';
  if (error.status === 403) return 'FORBIDDEN';
  if (error.status >= 500) return 'UNKNOWN_ERROR';
  return 'CONFIGURATION_ERROR';
}

/**
 * Refusals in AppDirect's shape (`success`, `errorCode`, `message`, which the marketplace shows in
 * its event log) plus the hub's own `error` and `details`, so the field at fault is still named.
 */
export function appDirectErrorBody(error: AppError) {
  return {
    success: false,
    errorCode: errorCodeOf(error),
    message: error.message,
    error: error.code,
    details: error.details,
  };
}
