import type { AppError } from '../../shared/errors.ts';
import type { HttpRequest, HttpResponse } from '../../shared/http/types.ts';
import { detectShape, type ItemDetail, type OutcomeName, type Shape } from './schema.ts';

/**
 * The seed's response shapes. "First implementation": `{success, message, errorDTOS}`; "current":
 * `{typeEvent, emitter, timestamp, success, message, details[]}`.
 */
export interface Echo {
  typeEvent: unknown;
  emitter: unknown;
  timestamp: unknown;
}

const KO_MESSAGE = 'errors while executing';

/** 200 when every item succeeded; 500 when one failed internally (Zuora retries); else 400. */
export function statusOf(details: ItemDetail[]): number {
  if (details.every((d) => d.success)) return 200;
  return details.some((d) => d.name === 'INTERNAL_SERVER_ERROR') ? 500 : 400;
}

export function buildResponse(shape: Shape, echo: Echo, details: ItemDetail[]): HttpResponse {
  const statusCode = statusOf(details);
  const success = statusCode === 200;
  if (shape === 'first') {
    return {
      statusCode,
      body: success
        ? { success: true, message: null, errorDTOS: null }
        : {
            success: false,
            message: KO_MESSAGE,
            errorDTOS: details.filter((d) => !d.success).map((d) => ({ name: d.name, message: d.message })),
          },
    };
  }
  return {
    statusCode,
    body: {
      typeEvent: echo.typeEvent,
      emitter: echo.emitter,
      timestamp: echo.timestamp,
      success,
      // The seed answers "created" when every item was created: the distinct outcomes, lower case.
      message: success ? [...new Set(details.map((d) => d.name.toLowerCase()))].join(', ') : KO_MESSAGE,
      details,
    },
  };
}

/** A refusal of the whole request (malformed body, auth), in the request's shape. */
export function requestKo(
  shape: Shape,
  echo: Echo,
  statusCode: number,
  name: string,
  message: string,
): HttpResponse {
  if (shape === 'first') {
    return { statusCode, body: { success: false, message: KO_MESSAGE, errorDTOS: [{ name, message }] } };
  }
  return {
    statusCode,
    body: {
      typeEvent: echo.typeEvent ?? null,
      emitter: echo.emitter ?? null,
      timestamp: echo.timestamp ?? null,
      success: false,
      message: KO_MESSAGE,
      details: [{ zReference: null, calculedHash: null, success: false, name, message }],
    },
  };
}

export const echoOf = (body: unknown): Echo => {
  const o = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const scalar = (v: unknown) => (typeof v === 'string' ? v : null);
  return { typeEvent: scalar(o.typeEvent), emitter: scalar(o.emitter), timestamp: scalar(o.timestamp) };
};

const NAMES: Record<number, OutcomeName | string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'BAD_REQUEST',
  415: 'BAD_REQUEST',
  422: 'UNPROCESSABLE_ENTITY',
};

/**
 * `formatError` of both routes. Body problems (malformed JSON, 413, 415) and unexpected faults are
 * always answered in the seed's KO shape (this route speaks only that contract), the shape guessed
 * from the text when it does not parse. Auth failures use the KO shape when the body is recognisably
 * a Zuora event, and the hub's generic error shape otherwise.
 */
export function formatZuoraError(error: AppError, req: HttpRequest): HttpResponse | undefined {
  let body: unknown;
  let parsed = false;
  try {
    body = req.rawBody ? JSON.parse(req.rawBody) : undefined;
    parsed = true;
  } catch {
    body = undefined;
  }
  const recognisable = !!body && typeof body === 'object' && ('typeEvent' in body || 'payload' in body);
  const authFailure = error.status === 401 || error.status === 403;
  if (authFailure && !recognisable) return undefined;
  const shape: Shape = parsed
    ? detectShape(body)
    : /"z(Reference|account|subscription|workspace)"/.test(req.rawBody ?? '')
      ? 'current'
      : 'first';
  const name = error.status >= 500 ? 'INTERNAL_SERVER_ERROR' : (NAMES[error.status] ?? 'BAD_REQUEST');
  return requestKo(shape, echoOf(body), error.status, name, error.message);
}
