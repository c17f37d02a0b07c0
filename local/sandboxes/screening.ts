import { CslEngine } from '../../shared/screening/csl-engine.ts';
import { rawTokens } from '../../shared/screening/normalise.ts';
import { DEMO_LIST_PATH } from '../screening/demo-list.ts';
import { Sandbox, type SandboxContext, type SandboxRequest, type SandboxResponse } from './kit.ts';
import { LOCAL_SCREENING_CREDENTIALS } from './screening-credentials.ts';

export { LOCAL_SCREENING_CREDENTIALS };

/** Lowest fuzzy score (0..1) the sandbox returns, like trade.gov's fuzzy search returning near misses. */
const FUZZY_MIN_SCORE = 0.75;
const MAX_SIZE = 50;

/** Azure API Management's answer to a missing or wrong subscription key (trade.gov's API gateway). */
const accessDenied = (missing: boolean): SandboxResponse => ({
  status: 401,
  body: {
    statusCode: 401,
    message: missing
      ? 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.'
      : 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
  },
});

/** The short code of a CSL source, e.g. "Entity List (EL) - Bureau of Industry and Security" → "EL". */
const sourceCode = (source: string) => /\(([^)]+)\)/.exec(source)?.[1] ?? source;

/**
 * Screening sandbox: trade.gov's Consolidated Screening List search API
 * (`GET /consolidated_screening_list/v1/search`) answered by the embedded engine over the demo list
 * (or `SCREENING_LIST_PATH`). Supports `name`, `fuzzy_name`, `countries`, `sources`, `types`, `size`
 * (≤ 50) and `offset`; requires the `subscription-key` header (or query parameter). Every search is
 * recorded (`kind: 'search'`) with the name, filters and the ids returned; faults come from the kit.
 */
export function createScreeningSandbox(ctx: SandboxContext, listPath?: string): Sandbox {
  const sandbox = new Sandbox('screening', ctx, () => ({}));
  let engine: CslEngine | undefined;
  const load = () => {
    engine ??= CslEngine.fromPaths(listPath ?? (process.env.SCREENING_LIST_PATH?.trim() || DEMO_LIST_PATH));
    return engine;
  };

  sandbox.route('GET', '/consolidated_screening_list/v1/search', (req: SandboxRequest) => {
    const key = req.headers['subscription-key'] ?? req.query.get('subscription-key');
    if (!key) return accessDenied(true);
    if (key !== LOCAL_SCREENING_CREDENTIALS.subscriptionKey) return accessDenied(false);

    const size = req.query.has('size') ? Number(req.query.get('size')) : 10;
    const offset = req.query.has('offset') ? Number(req.query.get('offset')) : 0;
    if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE || !Number.isInteger(offset) || offset < 0) {
      return {
        status: 400,
        body: { message: `size must be an integer from 1 to ${MAX_SIZE} and offset a non-negative integer` },
      };
    }
    const list = (param: string) =>
      (req.query.get(param) ?? '')
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean);
    const countries = list('countries');
    const sources = list('sources');
    const types = list('types');
    const name = req.query.get('name')?.trim() ?? '';
    const fuzzy = req.query.get('fuzzy_name') === 'true';

    const csl = load();
    let hits: Array<{ entry: (typeof csl.entries)[number]; score?: number }>;
    if (!name) hits = csl.entries.map((entry) => ({ entry }));
    else if (fuzzy) {
      hits = csl
        .search(name, { minScore: FUZZY_MIN_SCORE })
        .map((m) => ({ entry: m.entry, score: Math.round(m.score * 1000) / 10 }));
    } else {
      // non-fuzzy search: every word of the query appears in the name or an alternate name
      const words = rawTokens(name);
      hits = csl.entries
        .filter((e) =>
          [e.name, ...e.alt_names].some((n) => {
            const tokens = new Set(rawTokens(n));
            return words.every((w) => tokens.has(w));
          }),
        )
        .map((entry) => ({ entry }));
    }
    hits = hits.filter(
      ({ entry }) =>
        (!countries.length ||
          entry.addresses.some((a) => countries.includes((a.country ?? '').toUpperCase()))) &&
        (!sources.length || sources.includes(sourceCode(entry.source).toUpperCase())) &&
        (!types.length || types.includes((entry.type ?? '').toUpperCase())),
    );
    const page = hits.slice(offset, offset + size);
    sandbox.record('search', {
      name,
      fuzzy,
      countries,
      sources,
      total: hits.length,
      ids: page.map((h) => h.entry.id),
    });
    const now = ctx.clock.now().toISOString();
    const usedSources = [...new Set(csl.entries.map((e) => e.source))].sort();
    return {
      status: 200,
      body: {
        total: hits.length,
        offset,
        sources_used: usedSources.map((source) => ({
          source,
          source_last_updated: csl.listVersion ?? null,
          last_imported: now,
        })),
        search_performed_at: now,
        results: page.map(({ entry, score }) => ({ ...entry, ...(score !== undefined ? { score } : {}) })),
      },
    };
  });
  return sandbox;
}
