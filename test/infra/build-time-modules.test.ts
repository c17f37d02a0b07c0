import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../functions/meta/openapi-document.ts';
import {
  DEPLOYED_EXAMPLE_URL,
  openApiModule,
  routeTableModule,
} from '../../infra/bundle/build-time-modules.ts';
import { wiring } from '../../infra/wiring.ts';
import { routeTable } from '../../shared/http/route-table.ts';

/** Loads a generated TypeScript module the way the bundle would run it. */
async function load<T>(source: string): Promise<T> {
  const js = transformSync(source, { loader: 'ts', format: 'esm' }).code;
  return (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as T;
}

describe('build-time modules (what replaces the manifest in a bundle)', () => {
  it('each function’s generated route table equals what the source reads from the manifest', async () => {
    const names = [...new Set(wiring.routes.map((r) => r.function))];
    expect(names.length).toBeGreaterThan(4);
    for (const name of names) {
      const generated = await load<{ routeTable: typeof routeTable }>(routeTableModule(wiring, name));
      expect(generated.routeTable(name), name).toEqual(routeTable(name));
      expect(() => generated.routeTable('someone-else'), name).toThrow(/routes of/);
    }
  });

  it('the generated OpenAPI document equals the one built from the manifest', async () => {
    const generated = await load<{ openApiDocument: typeof openApiDocument }>(openApiModule(wiring));
    // Only the samples' {{localUrl}} differs: the local runtime resolves it, AWS has no such runtime.
    const local = JSON.stringify(openApiDocument('9.9.9'));
    expect(local).toContain('{{localUrl}}');
    expect(generated.openApiDocument('9.9.9')).toEqual(
      JSON.parse(local.replaceAll('{{localUrl}}', DEPLOYED_EXAMPLE_URL)),
    );
  });

  it('the generated document carries the events/api request examples', async () => {
    const generated = await load<{ openApiDocument: typeof openApiDocument }>(openApiModule(wiring));
    const doc = generated.openApiDocument('1') as Record<string, any>;
    const orders = doc.paths['/v1/orders'].post.requestBody.content['application/json'].examples;
    expect(Object.keys(orders)).toContain('valid');
    expect(orders).not.toHaveProperty('missing-lines');
    const endpoint = doc.paths['/v1/webhooks/endpoints'].post.requestBody.content['application/json'];
    expect(endpoint.examples['local-receiver'].value.url).toBe(
      `${DEPLOYED_EXAMPLE_URL}/_sandbox/receiver/demo`,
    );
  });
});
