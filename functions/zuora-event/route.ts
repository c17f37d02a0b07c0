import { ForbiddenError } from '../../shared/errors.ts';
import { parseJsonText, readBody } from '../../shared/http/body.ts';
import type { HttpResponse, RouteHandler } from '../../shared/http/types.ts';
import type { ReceiveEventInput } from './receive-event.ts';
import { formatZuoraError } from './respond.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The HTTP side of the Zuora event route: the seed's `X-Client-Id` rule (it must name the client the
 * token was issued to), the body, the `Zuora-Notification-Id` header. Errors thrown here reach
 * `formatZuoraError` and are answered in the request's shape.
 */
export function zuoraEventRoute(receive: (input: ReceiveEventInput) => Promise<HttpResponse>): {
  handler: RouteHandler;
  options: { formatError: typeof formatZuoraError };
} {
  return {
    handler: async (req) => {
      const clientId = req.headers['x-client-id'];
      if (!clientId) throw new ForbiddenError('The X-Client-Id header is required.', 'CLIENT_ID_REQUIRED');
      if (clientId !== req.principal?.sub) {
        throw new ForbiddenError(
          'X-Client-Id does not name the client of the access token.',
          'CLIENT_ID_MISMATCH',
        );
      }
      const body = parseJsonText(readBody(req, { maxBytes: MAX_BODY_BYTES }));
      const notificationId = req.headers['zuora-notification-id'];
      return receive({ body, ...(notificationId !== undefined ? { notificationId } : {}) });
    },
    options: { formatError: formatZuoraError },
  };
}
