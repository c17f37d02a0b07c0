import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { type Clock, systemClock } from '../clock.ts';
import {
  compactScore,
  foldCase,
  normaliseName,
  softTokenSetScore,
  splitAka,
  tokenSimilarity,
  tokenWeight,
} from './normalise.ts';
import type {
  ScreeningEvidence,
  ScreeningOutcome,
  ScreeningParty,
  ScreeningProvider,
  ScreeningResult,
} from './provider.ts';

/**
 * Embedded screening engine over a Consolidated Screening List in trade.gov's JSON entry format.
 *
 * Matching: every entry name, alternate name and embedded "a.k.a." part is normalised
 * (`normaliseName`: case, accents, Cyrillic, punctuation, legal forms, abbreviations) into tokens; a
 * query name is compared with `nameSimilarity`'s rule (a symmetric, length-weighted soft token-set
 * score built on Jaro-Winkler / Levenshtein per token, plus the concatenated form; 0..1, order-free).
 *
 * Index: only names sharing a blocking key with the query are scored. A token of seven characters
 * or more yields its first three and last three characters (one typo rarely changes both); a token
 * of four to six also yields first letter + last letter + length (a middle typo changes both
 * halves); a shorter token is its own key; the concatenated name yields its first four characters
 * (spacing variants). Keys shared by too many names ("ban" on a list full of banks) are skipped when
 * more selective keys exist, and a candidate is only scored when an upper bound of its score can
 * reach the threshold. Token similarities are cached per query over the list's vocabulary.
 *
 * Outcome, per matched entry (the result takes the most severe):
 * - `blocked`: score ≥ `block` AND corroborated by location: the party's country or address country
 *   is one of the entry's address countries, citizenships or nationalities — or, for entry addresses
 *   that carry no country, the party's address city or postal code matches (a city shared across
 *   different countries, Paris FR / Paris TX, is a coincidence, not evidence);
 * - `review`: score ≥ `block` without such corroboration, or `review` ≤ score < `block`;
 * - `clear`: nothing scored ≥ `review`.
 * Evidence lists the matched entries (at most 10, most severe then best first). A party whose names
 * have no letter or digit cannot be screened and is referred for review, never cleared.
 */

/** Score thresholds, 0..1. Defaults chosen against the real CSL samples (see the unit tests). */
export interface ScreeningThresholds {
  /** A match this strong with country/address corroboration blocks the party. */
  block: number;
  /** A match at least this strong is referred to an operator. */
  review: number;
}

export const DEFAULT_THRESHOLDS: ScreeningThresholds = { block: 0.92, review: 0.82 };

const nullableStrings = z
  .array(z.string().nullable())
  .nullish()
  .transform((v) => (v ?? []).filter((s): s is string => typeof s === 'string' && s.trim().length > 0));

const addressSchema = z
  .object({
    address: z.string().nullish(),
    city: z.string().nullish(),
    state: z.string().nullish(),
    postal_code: z.string().nullish(),
    country: z.string().nullish(),
  })
  .loose();

/** One CSL entry (only the fields screening uses; the rest is kept as-is). */
export const cslEntrySchema = z
  .object({
    id: z.union([z.string(), z.number()]).transform(String),
    name: z.string().min(1),
    alt_names: nullableStrings,
    addresses: z
      .array(addressSchema)
      .nullish()
      .transform((v) => v ?? []),
    citizenships: nullableStrings,
    nationalities: nullableStrings,
    source: z.string().min(1),
    type: z.string().nullish(),
    /** trade.gov's fuzzy score (0..100), only on search API results. */
    score: z.number().nullish(),
  })
  .loose();
export type CslEntry = z.infer<typeof cslEntrySchema>;

/** A CSL file is a JSON array of entries, or trade.gov's `{ results: [...] }` envelope. */
export const cslFileSchema = z.union([
  z.array(z.unknown()),
  z.object({ results: z.array(z.unknown()) }).loose(),
]);

/** Parses the entries of a CSL document; a malformed entry fails with its index. */
export function parseCslEntries(doc: unknown): CslEntry[] {
  const parsed = cslFileSchema.parse(doc);
  const raw = Array.isArray(parsed) ? parsed : parsed.results;
  return raw.map((item, i) => {
    const r = cslEntrySchema.safeParse(item);
    if (!r.success) {
      throw new Error(
        `CSL entry ${i} is invalid: ${r.error.issues.map((x) => x.path.join('.') + ' ' + x.message).join('; ')}`,
      );
    }
    return r.data;
  });
}

/** A list entry with the match found for a query. */
export interface CslMatch {
  entry: CslEntry;
  /** Position of the entry in the engine's list. */
  index: number;
  score: number;
  /** The entry name or alternate name that scored best. */
  matchedName: string;
}

interface Variant {
  entry: number;
  name: string;
  /** Token ids in the engine's vocabulary. */
  ids: number[];
  weights: number[];
  totalWeight: number;
  compact: string;
}

interface EntryFacts {
  countries: string[];
  cities: Set<string>;
  postalCodes: Set<string>;
}

const ISO2 = /^[A-Z]{2}$/;
const compactPostal = (s: string) => s.replace(/[^0-9a-z]/gi, '').toUpperCase();
const normCity = (s: string) => foldCase(s).replace(/[^\p{L}\p{N}]+/gu, '');

/**
 * Blocking keys of one token: first and last three characters, plus (for 4-6 characters, where those
 * two overlap and one typo in the middle changes both) first letter, last letter and length; a
 * shorter token is its own key.
 */
function tokenKeys(t: string, onlyToken: boolean): string[] {
  if (t.length >= 7) return [`p:${t.slice(0, 3)}`, `s:${t.slice(-3)}`];
  if (t.length >= 4) return [`p:${t.slice(0, 3)}`, `s:${t.slice(-3)}`, `e:${t[0]}${t.at(-1)}${t.length}`];
  return t.length > 1 || onlyToken ? [`w:${t}`] : [];
}

/** Key of the concatenated name (spacing variants). */
function compactKey(tokens: readonly string[]): string | undefined {
  const compact = tokens.join('');
  return compact.length >= 4 ? `c:${compact.slice(0, 4)}` : undefined;
}

function blockingKeys(tokens: readonly string[]): string[] {
  const keys = new Set(tokens.flatMap((t) => tokenKeys(t, tokens.length === 1)));
  const c = compactKey(tokens);
  if (c) keys.add(c);
  return [...keys];
}

export interface CslEngineOptions {
  thresholds?: Partial<ScreeningThresholds>;
  listVersion?: string;
  /** Use an entry's own `score` (trade.gov search results, 0..100) when higher than ours. */
  trustEntryScores?: boolean;
}

export class CslEngine {
  readonly thresholds: ScreeningThresholds;
  readonly listVersion: string | undefined;
  private readonly variants: Variant[] = [];
  private readonly facts: EntryFacts[];
  private readonly postings = new Map<string, number[]>();
  /** Token vocabulary: similarities are cached per query by token id (list tokens repeat a lot). */
  private readonly vocabulary = new Map<string, number>();
  private readonly words: string[] = [];
  /** Per query-token-position similarity caches over the vocabulary (-1 = not computed), reused. */
  private readonly simCaches: Float32Array[] = [];
  /** A key with more names than this is only used when the query has no more selective key. */
  private readonly maxBlock: number;

  constructor(
    readonly entries: readonly CslEntry[],
    private readonly options: CslEngineOptions = {},
  ) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    if (
      !(
        this.thresholds.review > 0 &&
        this.thresholds.review <= this.thresholds.block &&
        this.thresholds.block <= 1
      )
    ) {
      throw new Error('screening thresholds must satisfy 0 < review ≤ block ≤ 1');
    }
    this.listVersion = options.listVersion;
    this.facts = entries.map((e) => entryFacts(e));
    entries.forEach((entry, index) => {
      const names = new Set<string>([...splitAka(entry.name), entry.name, ...entry.alt_names]);
      const seen = new Set<string>();
      for (const name of names) {
        const tokens = normaliseName(name);
        const key = tokens.join(' ');
        if (!tokens.length || seen.has(key)) continue;
        seen.add(key);
        const ids = tokens.map((t) => {
          let id = this.vocabulary.get(t);
          if (id === undefined) {
            id = this.words.push(t) - 1;
            this.vocabulary.set(t, id);
          }
          return id;
        });
        const weights = tokens.map(tokenWeight);
        const totalWeight = weights.reduce((a, b) => a + b, 0);
        const v =
          this.variants.push({ entry: index, name, ids, weights, totalWeight, compact: tokens.join('') }) - 1;
        for (const k of blockingKeys(tokens)) {
          const list = this.postings.get(k);
          if (list) list.push(v);
          else this.postings.set(k, [v]);
        }
      }
    });
    this.maxBlock = Math.max(200, Math.ceil(this.variants.length * 0.03));
  }

  /** Loads one or more CSL JSON files; a directory contributes every `*.json` in it. */
  static fromPaths(paths: string | string[], options: CslEngineOptions = {}): CslEngine {
    const files = (Array.isArray(paths) ? paths : paths.split(','))
      .map((p) => p.trim())
      .filter(Boolean)
      .flatMap((p) =>
        statSync(p).isDirectory()
          ? readdirSync(p)
              .filter((f) => f.endsWith('.json'))
              .sort()
              .map((f) => join(p, f))
          : [p],
      );
    if (!files.length) throw new Error(`no CSL list file found in ${String(paths)}`);
    const hash = createHash('sha256');
    const entries = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      hash.update(text);
      try {
        return parseCslEntries(JSON.parse(text));
      } catch (error) {
        throw new Error(`cannot load CSL list ${file}: ${(error as Error).message}`);
      }
    });
    return new CslEngine(entries, { listVersion: `sha256:${hash.digest('hex').slice(0, 12)}`, ...options });
  }

  /** Number of indexed names (entry names, alternate names and "a.k.a." parts). */
  get indexedNames(): number {
    return this.variants.length;
  }

  /**
   * Entries whose best name scores at least `minScore` against `name` (default: the review
   * threshold), best first.
   */
  search(name: string, options: { minScore?: number; limit?: number } = {}): CslMatch[] {
    const minScore = options.minScore ?? this.thresholds.review;
    const tokens = normaliseName(name);
    if (!tokens.length) return [];
    const best = new Map<number, CslMatch>();
    const queryWeights = tokens.map(tokenWeight);
    const queryCompact = tokens.join('');
    const caches = tokens.map((_, i) => this.simCache(i));
    const touched: number[] = [];
    let ids: number[] = [];
    const sim = (i: number, j: number): number => {
      const id = ids[j]!;
      const cache = caches[i]!;
      let s = cache[id]!;
      if (s < 0) {
        s = tokenSimilarity(tokens[i]!, this.words[id]!);
        cache[id] = s;
        touched.push(i, id);
      }
      return s;
    };
    for (const v of this.candidates(tokens, queryWeights, minScore)) {
      const variant = this.variants[v]!;
      const entry = this.entries[variant.entry]!;
      ids = variant.ids;
      let score = softTokenSetScore(queryWeights, variant.weights, sim);
      if (score < 1) score = Math.max(score, compactScore(queryCompact, variant.compact));
      if (this.options.trustEntryScores && typeof entry.score === 'number') {
        score = Math.max(score, Math.min(1, entry.score / 100));
      }
      if (score < minScore) continue;
      const current = best.get(variant.entry);
      if (!current || score > current.score) {
        best.set(variant.entry, { entry, index: variant.entry, score, matchedName: variant.name });
      }
    }
    for (let k = 0; k < touched.length; k += 2) caches[touched[k]!]![touched[k + 1]!] = -1;
    const out = [...best.values()].sort((a, b) => b.score - a.score || a.entry.id.localeCompare(b.entry.id));
    return options.limit ? out.slice(0, options.limit) : out;
  }

  /**
   * Screens a party: its name and alternate names against every entry; see the module comment. A
   * party without any letter or digit in its names cannot be screened and is referred for review.
   */
  screen(party: ScreeningParty, clock: Clock = systemClock): Omit<ScreeningResult, 'provider'> {
    const names = [party.name, ...(party.alternateNames ?? [])].filter((n) => normaliseName(n).length > 0);
    if (!names.length) {
      // nothing to compare (no letter or digit): never let such a party through as clear
      return {
        outcome: 'review',
        evidence: [],
        ...(this.listVersion ? { listVersion: this.listVersion } : {}),
        screenedAt: clock.now().toISOString(),
      };
    }
    const matches = new Map<number, CslMatch>();
    for (const name of names) {
      for (const m of this.search(name)) {
        const current = matches.get(m.index);
        if (!current || m.score > current.score) matches.set(m.index, m);
      }
    }
    const evidence: Array<ScreeningEvidence & { verdict: ScreeningOutcome }> = [];
    for (const m of matches.values()) {
      const facts = this.facts[m.index]!;
      const corroboration = corroborate(party, facts);
      const high = m.score >= this.thresholds.block;
      const verdict: ScreeningOutcome = high && corroboration ? 'blocked' : 'review';
      const where = facts.countries.length ? facts.countries.join(', ') : 'no country on the list';
      evidence.push({
        verdict,
        list: m.entry.source,
        entryId: m.entry.id,
        entryName: m.entry.name,
        matchedName: m.matchedName,
        score: Math.round(m.score * 1000) / 1000,
        countries: facts.countries,
        reason: `name score ${m.score.toFixed(3)}${high ? '' : ' (partial name match)'}; ${
          corroboration ?? `no country or address corroboration (entry: ${where})`
        }`,
      });
    }
    const rank = { blocked: 2, review: 1, clear: 0 } as const;
    evidence.sort((a, b) => rank[b.verdict] - rank[a.verdict] || b.score - a.score);
    const outcome: ScreeningOutcome = evidence[0]?.verdict ?? 'clear';
    return {
      outcome,
      evidence: evidence.slice(0, 10).map(({ verdict: _verdict, ...e }) => e),
      ...(this.listVersion ? { listVersion: this.listVersion } : {}),
      screenedAt: clock.now().toISOString(),
    };
  }

  private simCache(position: number): Float32Array {
    let cache = this.simCaches[position];
    if (!cache) {
      cache = new Float32Array(this.words.length).fill(-1);
      this.simCaches[position] = cache;
    }
    return cache;
  }

  /**
   * Variants worth scoring: those sharing a selective blocking key with the query and whose score
   * could still reach `minScore`. The bound assumes every candidate token matches perfectly and
   * every query token without a shared key matches nothing — except tokens some of whose keys were
   * skipped as unselective, which are assumed to match. Sharing the compact key always qualifies.
   */
  private candidates(
    tokens: readonly string[],
    weights: readonly number[],
    minScore: number,
  ): Iterable<number> {
    // API results are few and pre-selected by trade.gov: score them all
    if (this.options.trustEntryScores) return this.variants.keys();
    const queryWeight = weights.reduce((a, b) => a + b, 0);
    const hits = new Map<number, number>();
    const compactHits = new Set<number>();
    const assumed = tokens.map((t) => t.length === 1);
    const perToken = tokens.map((t, i) => ({
      i,
      lists: tokenKeys(t, tokens.length === 1).map((k) => this.postings.get(k)),
    }));
    const compact = compactKey(tokens);
    const compactList = compact ? this.postings.get(compact) : undefined;
    let used = 0;
    for (const { i, lists } of perToken) {
      for (const list of lists) {
        if (!list) continue;
        if (list.length > this.maxBlock || i > 30) {
          assumed[i] = true;
          continue;
        }
        used++;
        const bit = 1 << i;
        for (const v of list) hits.set(v, (hits.get(v) ?? 0) | bit);
      }
    }
    if (compactList && compactList.length <= this.maxBlock) {
      used++;
      for (const v of compactList) compactHits.add(v);
    }
    if (!used) {
      // every key is unselective: fall back to the smallest block, unpruned
      const smallest = [...perToken.flatMap((p) => p.lists), compactList]
        .filter((l): l is number[] => !!l)
        .sort((a, b) => a.length - b.length)[0];
      return smallest ?? [];
    }
    const assumedWeight = weights.reduce((sum, w, i) => (assumed[i] ? sum + w : sum), 0);
    const out: number[] = [...compactHits];
    for (const [v, mask] of hits) {
      if (compactHits.has(v)) continue;
      let hitWeight = assumedWeight;
      for (let i = 0; i < tokens.length && i <= 30; i++)
        if (mask & (1 << i) && !assumed[i]) hitWeight += weights[i]!;
      const candidateWeight = this.variants[v]!.totalWeight;
      if ((hitWeight + candidateWeight) / (queryWeight + candidateWeight) >= minScore) out.push(v);
    }
    return out;
  }
}

function entryFacts(entry: CslEntry): EntryFacts {
  const countries = new Set<string>();
  const cities = new Set<string>();
  const postalCodes = new Set<string>();
  for (const a of entry.addresses) {
    const c = a.country?.trim().toUpperCase();
    if (c && ISO2.test(c)) {
      countries.add(c);
      continue;
    }
    // only addresses without a country are corroborated by city or postal code
    if (a.city?.trim()) cities.add(normCity(a.city));
    if (a.postal_code?.trim()) postalCodes.add(compactPostal(a.postal_code));
  }
  for (const c of [...entry.citizenships, ...entry.nationalities]) {
    const code = c.trim().toUpperCase();
    if (ISO2.test(code)) countries.add(code);
  }
  return { countries: [...countries], cities, postalCodes };
}

/** Why the party's location corroborates the entry, or undefined. */
function corroborate(party: ScreeningParty, facts: EntryFacts): string | undefined {
  const partyCountries = new Set(
    [party.country, party.address?.country].filter(Boolean).map((c) => c!.trim().toUpperCase()),
  );
  const country = facts.countries.find((c) => partyCountries.has(c));
  if (country) return `country corroborated (${country})`;
  const city = party.address?.city ? normCity(party.address.city) : '';
  if (city && facts.cities.has(city)) return `address corroborated (city ${party.address!.city})`;
  const postal = party.address?.postalCode ? compactPostal(party.address.postalCode) : '';
  if (postal.length >= 3 && facts.postalCodes.has(postal)) return 'address corroborated (postal code)';
  return undefined;
}

const thresholdEnv = z.coerce.number().gt(0).max(1).optional();

/** Thresholds from `SCREENING_BLOCK_THRESHOLD` / `SCREENING_REVIEW_THRESHOLD` (0..1), else defaults. */
export function thresholdsFromEnv(env: NodeJS.ProcessEnv): ScreeningThresholds {
  const block = thresholdEnv.safeParse(env.SCREENING_BLOCK_THRESHOLD || undefined);
  const review = thresholdEnv.safeParse(env.SCREENING_REVIEW_THRESHOLD || undefined);
  if (!block.success || !review.success) {
    throw new Error(
      'Invalid environment configuration: SCREENING_BLOCK_THRESHOLD and SCREENING_REVIEW_THRESHOLD must be numbers in (0, 1]',
    );
  }
  return { block: block.data ?? DEFAULT_THRESHOLDS.block, review: review.data ?? DEFAULT_THRESHOLDS.review };
}

/** The `csl` provider: the embedded engine, built on first use (list loading is a cold-start cost). */
export function createCslProvider(load: () => CslEngine, clock: Clock = systemClock): ScreeningProvider {
  let engine: CslEngine | undefined;
  return {
    async screen(party, options) {
      options?.signal?.throwIfAborted();
      engine ??= load();
      return { ...engine.screen(party, clock), provider: 'csl' };
    },
  };
}

/**
 * `csl` provider from `SCREENING_LIST_PATH` (file, directory or comma-separated files). The path is
 * required: deployable code knows no default list (the demo list lives under `local/` and never
 * ships), so a Lambda configured for `csl` without a packaged list fails at cold start.
 */
export function createCslProviderFromEnv(env: NodeJS.ProcessEnv = process.env): ScreeningProvider {
  const thresholds = thresholdsFromEnv(env);
  const path = env.SCREENING_LIST_PATH?.trim();
  if (!path) {
    throw new Error(
      'Invalid environment configuration: SCREENING_LIST_PATH is required for SCREENING_PROVIDER=csl',
    );
  }
  return createCslProvider(() => CslEngine.fromPaths(path, { thresholds }));
}
