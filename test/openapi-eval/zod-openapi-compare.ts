/**
 * Evaluation of issue #15's option "OpenAPI from zod through zod-openapi instead of the hand
 * converter": builds the hub's document with `zod-openapi` (`createDocument`) from the same manifest,
 * the same operations, responses and examples as `functions/meta/openapi.ts`, and prints a structural
 * comparison with the hand converter's document. Run: `node --import tsx test/openapi-eval/zod-openapi-compare.ts [outDir]`
 * (writes both documents to outDir, default `.switchboard/openapi-eval/`, for `redocly lint`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as z from 'zod';
import { createDocument, type ZodOpenApiOperationObject } from 'zod-openapi';
import { declaredResponses } from '../../functions/meta/openapi.ts';
import { openApiDocument } from '../../functions/meta/openapi-document.ts';
import { wiring } from '../../infra/wiring.ts';

type Obj = Record<string, any>;

/** The zod-openapi document: operations copied from the hand document, every schema given as zod. */
export function zodOpenApiDocument(hand: Obj): Obj {
  const paths: Obj = {};
  for (const route of wiring.routes) {
    const handOp = hand.paths[route.path][route.method.toLowerCase()] as Obj;
    const op: ZodOpenApiOperationObject = {
      operationId: handOp.operationId,
      summary: handOp.summary,
      tags: handOp.tags,
      security: handOp.security,
      responses: {},
    };
    const pathParams = ((handOp.parameters ?? []) as Obj[]).filter((p) => p.in === 'path');
    if (pathParams.length) op.parameters = pathParams as never;
    if (route.request?.query) op.requestParams = { query: route.request.query as z.ZodObject };
    if (route.request?.body) {
      const handContent = handOp.requestBody.content as Obj;
      op.requestBody = {
        required: true,
        content: Object.fromEntries(
          Object.keys(handContent).map((t) => [
            t,
            {
              schema: route.request!.body!,
              ...(handContent[t].examples ? { examples: handContent[t].examples } : {}),
            },
          ]),
        ),
      };
    }
    for (const [status, r] of Object.entries(declaredResponses(route))) {
      const content: Obj = {};
      for (const type of r.mediaTypes ?? ['application/json']) {
        if (type === 'text/html') content[type] = { schema: { type: 'string' } };
        else if (r.body) content[type] = { schema: r.body };
      }
      (op.responses as Obj)[status] = {
        description: r.description,
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    paths[route.path] ??= {};
    paths[route.path][route.method.toLowerCase()] = op;
  }
  return createDocument({
    openapi: '3.1.0',
    info: hand.info,
    servers: hand.servers,
    paths,
    components: { securitySchemes: hand.components.securitySchemes },
  }) as Obj;
}

const refsOf = (v: unknown, out: string[] = []): string[] => {
  if (Array.isArray(v)) for (const x of v) refsOf(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) k === '$ref' ? out.push(String(x)) : refsOf(x, out);
  return out;
};
const count = (v: unknown, key: string, value?: unknown): number => {
  let n = 0;
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object')
      for (const [k, y] of Object.entries(x)) {
        if (k === key && (value === undefined || JSON.stringify(y) === JSON.stringify(value))) n++;
        walk(y);
      }
  };
  walk(v);
  return n;
};

/** A few facts per document: components, references, how optional and nullable come out, size. */
export function summary(doc: Obj) {
  const schemas = Object.keys(doc.components?.schemas ?? {}).sort();
  const refs = refsOf(doc.paths);
  return {
    bytes: JSON.stringify(doc).length,
    components: schemas,
    refsFromPaths: refs.length,
    inlineSchemasInPaths: count(doc.paths, 'type', 'object'),
    nullAsTypeArray: count(doc, 'type', ['string', 'null']),
    nullAsAnyOf: count(doc, 'type', 'null'),
    queryParameters: count(doc.paths, 'in', 'query'),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? '.switchboard/openapi-eval';
  mkdirSync(out, { recursive: true });
  const hand = JSON.parse(JSON.stringify(openApiDocument('0.0.0'))) as Obj;
  const lib = zodOpenApiDocument(hand);
  writeFileSync(join(out, 'hand.json'), `${JSON.stringify(hand, null, 2)}\n`);
  writeFileSync(join(out, 'zod-openapi.json'), `${JSON.stringify(lib, null, 2)}\n`);
  const a = summary(hand);
  const b = summary(lib);
  const onlyHand = a.components.filter((c) => !b.components.includes(c));
  const onlyLib = b.components.filter((c) => !a.components.includes(c));
  console.log(
    JSON.stringify(
      {
        hand: { ...a, components: a.components.length },
        zodOpenapi: { ...b, components: b.components.length },
        onlyHand,
        onlyLib,
      },
      null,
      2,
    ),
  );
}
