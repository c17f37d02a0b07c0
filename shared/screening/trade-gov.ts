import * as z from 'zod';
import { readSecretJson } from '../clients/credentials.ts';
import { HttpClient } from '../clients/http.ts';
import { type Clock, systemClock } from '../clock.ts';
import { logger } from '../logger.ts';
import {
  CslEngine,
  type CslEntry,
  parseCslEntries,
  type ScreeningThresholds,
  thresholdsFromEnv,
} from './csl-engine.ts';
import { type ScreeningParty, type ScreeningProvider, ScreeningUnavailableError } from './provider.ts';

/**
 * `trade-gov` provider: the trade.gov Consolidated Screening List search API
 * (`GET {base}/consolidated_screening_list/v1/search?name=…&fuzzy_name=true`, key in the
 * `subscription-key` header, as the trade.gov developer portal documents).
 *
 * The API finds the candidates; the outcome is decided by the same rules as the embedded engine
 * (`csl-engine.ts`), applied to the returned entries, so both providers classify a party alike. The
 * score of an entry is the higher of ours and trade.gov's own fuzzy score (0..100), so this provider
 * is never less strict than trade.gov.
 *
 * No `countries` filter is sent: it would hide name matches listed under another country, which
 * must still be referred for review; country corroboration is evaluated on the returned addresses.
 *
 * Timeouts, network errors, 429, 5xx — and any other answer that is not a well-formed 200, including
 * a rejected key — throw {@link ScreeningUnavailableError}: the caller retries later and never treats
 * the party as clear.
 */

/** The `screening-credentials` secret. */
export const screeningCredentialsSchema = z.object({ subscriptionKey: z.string().min(1) });
export type ScreeningCredentials = z.infer<typeof screeningCredentialsSchema>;

export const SEARCH_PATH = 'consolidated_screening_list/v1/search';
/** Results requested per name; trade.gov's maximum page size is 50. */
const PAGE_SIZE = 50;

const searchResponseSchema = z
  .object({
    total: z.number().optional(),
    results: z.array(z.unknown()),
    sources_used: z
      .array(
        z
          .object({
            source: z.string().optional(),
            source_last_updated: z.string().nullish(),
            last_imported: z.string().nullish(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

export interface TradeGovConfig {
  baseUrl: string;
  /** Resolves the subscription key (from the secret; cached by the caller's secret reader). */
  subscriptionKey: () => Promise<string>;
  thresholds?: Partial<ScreeningThresholds>;
  /** Per-attempt timeout (default 1,200 ms: two attempts fit the 3 s order-intake budget). */
  timeoutMs?: number;
  /** Attempts per search including the first (default 2). */
  attempts?: number;
  clock?: Clock;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** Builds the `trade-gov` provider. */
export function createTradeGovProvider(config: TradeGovConfig): ScreeningProvider {
  const http = new HttpClient({
    baseUrl: config.baseUrl,
    defaultTimeoutMs: config.timeoutMs ?? 1_200,
    defaultAttempts: config.attempts ?? 2,
    baseDelayMs: 100,
    maxDelayMs: 300,
    ...(config.fetchImpl ? { fetchImpl: config.fetchImpl } : {}),
    ...(config.sleep ? { sleep: config.sleep } : {}),
  });
  const clock = config.clock ?? systemClock;

  async function search(name: string, key: string, signal?: AbortSignal) {
    const query = new URLSearchParams({ name, fuzzy_name: 'true', size: String(PAGE_SIZE) });
    let res: Awaited<ReturnType<typeof http.request>>;
    try {
      res = await http.request(`${SEARCH_PATH}?${query}`, {
        operation: 'screening.search',
        headers: { 'subscription-key': key },
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new ScreeningUnavailableError(`screening service unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (res.status === 401 || res.status === 403) {
      logger.error('screening service rejected the subscription key', { status: res.status });
      throw new ScreeningUnavailableError(`screening service refused the subscription key (${res.status})`);
    }
    if (res.status !== 200) {
      throw new ScreeningUnavailableError(`screening service answered ${res.status}`);
    }
    const parsed = searchResponseSchema.safeParse(res.body);
    if (!parsed.success) throw new ScreeningUnavailableError('screening service answered an unexpected body');
    try {
      return { entries: parseCslEntries(parsed.data.results), sources: parsed.data.sources_used ?? [] };
    } catch (error) {
      throw new ScreeningUnavailableError(
        `screening service answered an unexpected entry: ${(error as Error).message}`,
      );
    }
  }

  return {
    async screen(party: ScreeningParty, options) {
      let key: string;
      try {
        key = await config.subscriptionKey();
      } catch (error) {
        throw new ScreeningUnavailableError('screening credentials are not available', { cause: error });
      }
      const names = [
        ...new Set([party.name, ...(party.alternateNames ?? [])].map((n) => n.trim()).filter(Boolean)),
      ];
      const pages = await Promise.all(names.map((n) => search(n, key, options?.signal)));
      const byId = new Map<string, CslEntry>();
      for (const page of pages) {
        for (const entry of page.entries) {
          const id = `${entry.source}\u0000${entry.id}`;
          const seen = byId.get(id);
          if (!seen || (entry.score ?? 0) > (seen.score ?? 0)) byId.set(id, entry);
        }
      }
      const listVersion = pages
        .flatMap((p) => p.sources)
        .map((s) => s.source_last_updated ?? s.last_imported ?? '')
        .filter(Boolean)
        .sort()
        .at(-1);
      const engine = new CslEngine([...byId.values()], {
        trustEntryScores: true,
        ...(config.thresholds ? { thresholds: config.thresholds } : {}),
        ...(listVersion ? { listVersion } : {}),
      });
      return { ...engine.screen(party, clock), provider: 'trade-gov' };
    },
  };
}

/**
 * `trade-gov` provider from `SCREENING_BASE_URL` (set by the `screening` partner use) and the
 * `screening-credentials` secret; optional `SCREENING_TIMEOUT_MS` and threshold variables.
 */
export function createTradeGovProviderFromEnv(env: NodeJS.ProcessEnv = process.env): ScreeningProvider {
  const baseUrl = env.SCREENING_BASE_URL?.trim();
  if (!baseUrl) {
    throw new Error(
      'Invalid environment configuration: SCREENING_BASE_URL is required for SCREENING_PROVIDER=trade-gov',
    );
  }
  const timeout = z.coerce
    .number()
    .int()
    .min(100)
    .max(10_000)
    .optional()
    .safeParse(env.SCREENING_TIMEOUT_MS || undefined);
  if (!timeout.success) {
    throw new Error(
      'Invalid environment configuration: SCREENING_TIMEOUT_MS must be an integer between 100 and 10000',
    );
  }
  return createTradeGovProvider({
    baseUrl,
    thresholds: thresholdsFromEnv(env),
    ...(timeout.data ? { timeoutMs: timeout.data } : {}),
    subscriptionKey: async () =>
      (await readSecretJson('screening-credentials', screeningCredentialsSchema)).subscriptionKey,
  });
}
