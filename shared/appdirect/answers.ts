import * as z from 'zod';

/**
 * What a product answers AppDirect: synchronously in the notification response, or asynchronously
 * by posting the same shape to `{marketplace}/api/integration/v1/events/{eventId}/result`
 * (`results/success.json`, `results/unknown_error.json`). Failures carry an AppDirect error code.
 */
export const APPDIRECT_ERROR_CODES = [
  'USER_ALREADY_EXISTS',
  'USER_NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  'MAX_USERS_REACHED',
  'UNAUTHORIZED',
  'OPERATION_CANCELED',
  'CONFIGURATION_ERROR',
  'INVALID_RESPONSE',
  'PENDING',
  'FORBIDDEN',
  'BINDING_NOT_FOUND',
  'TRANSPORT_ERROR',
  'UNKNOWN_ERROR',
] as const;
export type AppDirectErrorCode = (typeof APPDIRECT_ERROR_CODES)[number];

export const appDirectResultSchema = z.union([
  z.object({
    success: z.literal(true),
    message: z.string().optional(),
    accountIdentifier: z.string().optional(),
    userIdentifier: z.string().optional(),
    id: z.string().optional(),
  }),
  z.object({
    success: z.literal(false),
    errorCode: z.enum(APPDIRECT_ERROR_CODES),
    message: z.string(),
  }),
]);
export type AppDirectResult = z.infer<typeof appDirectResultSchema>;

export const success = (
  message: string,
  extra: { accountIdentifier?: string; userIdentifier?: string; id?: string } = {},
): AppDirectResult => ({
  success: true,
  message,
  ...extra,
});

export const failure = (errorCode: AppDirectErrorCode, message: string): AppDirectResult => ({
  success: false,
  errorCode,
  message,
});

/** The outcome of handling one event: answer now, or answer 202 and post the result later. */
export type EventOutcome = { kind: 'answer'; result: AppDirectResult } | { kind: 'pending'; message: string };

/** The body of an HTTP 202: the marketplace waits for the result to be posted. */
export const pendingBody = (message: string) => ({ success: true, asynchronous: true, message });
