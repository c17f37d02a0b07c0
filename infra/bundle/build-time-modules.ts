import { buildOpenApi } from '../../functions/meta/openapi.ts';
import { readApiSamples } from '../../functions/meta/samples.ts';
import type { RouteAuth, Wiring } from '../wiring-types.ts';
import { REPO_ROOT } from './esbuild.ts';

/**
 * Modules whose source form reads the manifest, replaced in a Lambda bundle by a literal built here
 * (at synth time, from the same manifest). Keys are repository-relative paths; a replacement only
 * applies when the function imports that module at all. This is how a handler gets its routes' auth
 * facts without carrying the manifest, its zod contracts or anything they import.
 */
export function buildTimeModules(wiring: Wiring, functionName: string): Record<string, string> {
  return {
    'shared/http/route-table.ts': routeTableModule(wiring, functionName),
    'functions/meta/openapi-document.ts': openApiModule(wiring),
  };
}

/** `routeTable()` of one function: its routes (key and auth facts only) as a literal. */
export function routeTableModule(wiring: Wiring, functionName: string): string {
  const routes: RouteAuth[] = wiring.routes
    .filter((r) => r.function === functionName)
    .map(({ method, path, auth, scopes }) => ({ method, path, auth, scopes: [...scopes] }));
  return [
    '// Generated at build time from infra/wiring.ts (infra/bundle/build-time-modules.ts).',
    `const FUNCTION = ${JSON.stringify(functionName)};`,
    `const ROUTES = ${JSON.stringify(routes)};`,
    'export function routeTable(functionName: string) {',
    '  if (functionName !== FUNCTION) {',
    "    throw new Error('this bundle holds the routes of ' + FUNCTION + ', not of ' + functionName);",
    '  }',
    '  return ROUTES.map((r) => ({ ...r, scopes: [...r.scopes] }));',
    '}',
    '',
  ].join('\n');
}

const openApiCache = new WeakMap<Wiring, string>();

/**
 * What `{{localUrl}}` in a sample becomes in the deployed document: no local runtime resolves it there,
 * so the example names a receiver host (RFC 2606 example domain) the reader replaces with their own.
 */
export const DEPLOYED_EXAMPLE_URL = 'https://receiver.example.com';

/**
 * `openApiDocument()` as the finished document (the version is set per call, from the env), with the
 * request examples of `events/api/` read now: the function cannot read `events/` in AWS.
 */
export function openApiModule(wiring: Wiring): string {
  let source = openApiCache.get(wiring);
  if (!source) {
    const samples = readApiSamples(REPO_ROOT, wiring, DEPLOYED_EXAMPLE_URL);
    const document = buildOpenApi(wiring, { version: '0.0.0', samples });
    source = [
      '// Generated at build time from infra/wiring.ts (infra/bundle/build-time-modules.ts).',
      `const DOCUMENT = ${JSON.stringify(document)};`,
      'export function openApiDocument(version: string): Record<string, unknown> {',
      '  return { ...DOCUMENT, info: { ...DOCUMENT.info, version } };',
      '}',
      '',
    ].join('\n');
    openApiCache.set(wiring, source);
  }
  return source;
}
