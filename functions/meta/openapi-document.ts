import { wiring } from '../../infra/wiring.ts';
import { buildOpenApi } from './openapi.ts';

/**
 * The OpenAPI document served at `GET /openapi.json`. In source (local runtime, tests) it is built
 * from the manifest on first use; in the Lambda bundle this module is replaced at build time by the
 * finished document (`openApiModule` in `infra/bundle/build-time-modules.ts`), so the function
 * carries neither the manifest nor zod's JSON Schema conversion.
 */
export function openApiDocument(version: string): Record<string, unknown> {
  return buildOpenApi(wiring, { version });
}
