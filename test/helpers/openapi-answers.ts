import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

type Obj = Record<string, any>;

/** Copies `value`, pointing `#/components/schemas/X` references at `#/$defs/X`. */
function toDefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toDefs);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', '#/$defs/') : toDefs(v),
      ]),
    );
  }
  return value;
}

export interface Answer {
  statusCode?: number | undefined;
  headers?: Record<string, unknown> | undefined;
  body?: string | undefined;
}

/**
 * Checks real answers against the OpenAPI document: the status must be documented for the operation,
 * the media type listed for it, and a JSON body must validate against the documented schema (JSON
 * Schema 2020-12, Ajv; formats are not checked). Returns the problems, empty when the answer agrees.
 */
export function answerChecker(doc: Obj) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const defs = toDefs(doc.components?.schemas ?? {});
  const compiled = new Map<string, ValidateFunction>();
  return (method: string, path: string, res: Answer): string[] => {
    const op = doc.paths?.[path]?.[method.toLowerCase()] as Obj | undefined;
    if (!op) return [`${method} ${path} is not in the document`];
    const status = String(res.statusCode);
    const documented = (op.responses?.[status] ?? op.responses?.[`${status[0]}XX`]) as Obj | undefined;
    if (!documented) return [`${method} ${path} answered ${status}, which is not documented`];
    const type = String(res.headers?.['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (!type) return res.body ? [`${status} has a body but no content type`] : [];
    const media = documented.content?.[type] as Obj | undefined;
    if (!media) return [`${method} ${path} ${status} answered ${type}, which is not documented`];
    if (type !== 'application/json') return [];
    const key = `${method} ${path} ${status}`;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile({ ...(toDefs(media.schema) as Obj), $defs: defs });
      compiled.set(key, validate);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body ?? '');
    } catch {
      return [`${key}: the body is not JSON`];
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${key}: ${e.instancePath || '/'} ${e.message ?? ''}`);
  };
}
