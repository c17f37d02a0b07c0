import * as z from 'zod';
import type { AppDirectErrorCode } from '../../shared/appdirect/answers.ts';
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
