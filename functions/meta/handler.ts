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
    'GET /openapi.json': async () => {
      document ??= openApiDocument(VERSION);
      return json(200, document, { 'cache-control': 'public, max-age=300' });
    },
  },
});
