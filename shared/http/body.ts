import type * as z from 'zod';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError, zodDetails } from '../errors.ts';
import type { HttpRequest } from './types.ts';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** The media type of the request without parameters (`application/json; charset=utf-8` → `application/json`). */
export function mediaType(req: HttpRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Checks presence, content type and size of the body; returns its text. 415 / 413 / 400. */
export function readBody(
  req: HttpRequest,
  options: { contentTypes?: string[]; maxBytes?: number } = {},
): string {
  const types = options.contentTypes ?? ['application/json'];
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (req.rawBody === undefined || req.rawBody.length === 0) {
    throw new ValidationError(
      'The request body is empty.',
      [{ field: 'body', message: 'required' }],
      'BODY_REQUIRED',
    );
  }
  const type = mediaType(req);
  const jsonSuffix = type.endsWith('+json') && types.includes('application/json');
  if (!types.includes(type) && !jsonSuffix) {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${type || '(none)'} is not accepted here; send ${types.join(' or ')}.`,
    );
  }
  const bytes = Buffer.byteLength(req.rawBody, 'utf8');
  if (bytes > maxBytes) {
    throw new PayloadTooLargeError(`The body is ${bytes} bytes; this route accepts at most ${maxBytes}.`);
  }
  return req.rawBody;
}

/** Parses JSON text; malformed JSON is a 400 naming the position. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes a slice of the body (`Unexpected token 'j', "jane.doe@e"... is not valid
    // JSON`); it is answered and logged, so only the position is kept, never the caller's data.
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    throw new ValidationError(
      `The body is not valid JSON${position !== undefined ? ` (error at position ${position})` : ''}.`,
      [{ field: 'body', message: 'malformed JSON' }],
      'MALFORMED_JSON',
    );
  }
}

/** Validates `value` against `schema`; failures are a 400 whose details name each field. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = 'The request body',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const details = zodDetails(result.error.issues);
    const first = details[0];
    throw new ValidationError(
      `${what} is invalid${first ? `: ${first.field}: ${first.message}` : ''}.`,
      details,
    );
  }
  return result.data;
}

/** Reads, parses and validates a JSON body in one step. */
export function jsonBody<S extends z.ZodType>(
  req: HttpRequest,
  schema: S,
  options: { contentTypes?: string[]; maxBytes?: number } = {},
): z.infer<S> {
  return validate(schema, parseJsonText(readBody(req, options)));
}

/** Validates the query string. */
export function queryParams<S extends z.ZodType>(req: HttpRequest, schema: S): z.infer<S> {
  return validate(schema, req.query, 'The query string');
}
