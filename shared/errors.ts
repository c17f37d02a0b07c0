/**
 * The one error family of the hub. Handlers throw these; one middleware maps them to responses by
 * `instanceof`. Anything else is an unexpected fault: logged with its stack, answered as a bare 500.
 */
export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `lines.0.quantity`; `body` for the whole body. */
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    details: ErrorDetail[] = [],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  toBody(): { error: string; message: string; details: ErrorDetail[] } {
    return { error: this.code, message: this.message, details: this.details };
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: ErrorDetail[] = [], code = 'VALIDATION_FAILED') {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'A valid bearer token is required.', code = 'UNAUTHORIZED') {
    super(401, code, message, [], { 'www-authenticate': 'Bearer' });
  }
}
export class ForbiddenError extends AppError {
  constructor(message: string, code = 'FORBIDDEN') {
    super(403, code, message);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(404, code, message);
  }
}
export class MethodNotAllowedError extends AppError {
  constructor(message: string) {
    super(405, 'METHOD_NOT_ALLOWED', message);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'CONFLICT', details: ErrorDetail[] = []) {
    super(409, code, message, details);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super(413, 'PAYLOAD_TOO_LARGE', message);
  }
}
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', message);
  }
}
export class UnprocessableError extends AppError {
  constructor(message: string, code = 'UNPROCESSABLE', details: ErrorDetail[] = []) {
    super(422, code, message, details);
  }
}
export class TooManyRequestsError extends AppError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(
      429,
      'TOO_MANY_REQUESTS',
      message,
      [],
      retryAfterSeconds ? { 'retry-after': String(retryAfterSeconds) } : {},
    );
  }
}

/**
 * A failure of a partner or dependency that is worth retrying (timeouts, 5xx, 429, lock contention).
 * Integration functions let it escape so SQS retries the record and finally dead-letters it.
 */
export class TransientError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TransientError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A failure that retrying will not fix (validation refused by a partner, unknown product...). */
export class PermanentError extends Error {
  readonly code: string;
  /** The partner's own error code (Zuora's reason code, Salesforce's `errorCode`), when it gave one. */
  readonly partnerCode: string | undefined;
  constructor(
    message: string,
    code = 'PERMANENT_FAILURE',
    options: { cause?: unknown; partnerCode?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'PermanentError';
    this.code = code;
    this.partnerCode = options.partnerCode;
  }
}

/** Converts zod issues into our details list (`field` is the dotted path). */
export function zodDetails(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>) {
  return issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : 'body',
    message: issue.message,
  }));
}
