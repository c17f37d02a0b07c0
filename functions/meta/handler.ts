import { httpHandler } from '../../shared/http/handler.ts';
import { json } from '../../shared/http/types.ts';
import { openApiDocument } from './openapi-document.ts';

const VERSION = process.env.SERVICE_VERSION ?? '0.1.0';
let document: Record<string, unknown> | undefined;

/** `GET /health` and `GET /openapi.json` (built once per execution environment). */
export const handler = httpHandler({
  functionName: 'meta',
  routes: {
    'GET /health': async () =>
      json(200, { status: 'ok', stage: process.env.STAGE ?? 'local', version: VERSION }),
    'GET /openapi.json': async (req) => {
      document ??= openApiDocument(VERSION);
      // The API's absolute URL as the server: the reference page on another origin (the console's
      // /docs/ in AWS) resolves the token URL and "Try it out" against it, not against its own origin.
      const domain = req.event.requestContext?.domainName;
      const proto = req.headers['x-forwarded-proto'];
      const served =
        domain && (proto === 'https' || proto === 'http')
          ? { ...document, servers: [{ url: `${proto}://${domain}` }] }
          : document;
      return json(200, served, { 'cache-control': 'public, max-age=300' });
    },
  },
});
