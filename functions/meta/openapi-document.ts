import { fileURLToPath } from 'node:url';
import { wiring } from '../../infra/wiring.ts';
import { buildOpenApi } from './openapi.ts';
import { readApiSamples } from './samples.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
let samples: ReturnType<typeof readApiSamples> | undefined;

/**
 * The OpenAPI document served at `GET /openapi.json`. In source (local runtime, tests) it is built
 * from the manifest on first use; in the Lambda bundle this module is replaced at build time by the
 * finished document (`openApiModule` in `infra/bundle/build-time-modules.ts`), so the function
 * carries neither the manifest nor zod's JSON Schema conversion. Request examples come from
 * `events/api/`, read here directly (source form only); `{{localUrl}}` stays for the local runtime to
 * resolve, where the build-time document names an example host instead.
 */
export function openApiDocument(version: string): Record<string, unknown> {
  samples ??= readApiSamples(REPO_ROOT, wiring);
  return buildOpenApi(wiring, { version, samples });
}
