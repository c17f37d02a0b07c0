import { createCslProviderFromEnv } from './csl-engine.ts';
import { createTradeGovProviderFromEnv } from './trade-gov.ts';

/**
 * The restricted-party screening port. Order intake depends only on this file; the two adapters are
 * `csl` (embedded engine over a Consolidated Screening List JSON file, see `csl-engine.ts`) and
 * `trade-gov` (HTTP client of the trade.gov CSL search API, see `trade-gov.ts`).
 */
export type ScreeningOutcome = 'clear' | 'review' | 'blocked';

/** The party being screened (for orders: the Sell To company). */
export interface ScreeningParty {
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  alternateNames?: string[];
  address?: {
    line1?: string;
    line2?: string;
    city?: string;
    region?: string;
    postalCode?: string;
    country: string;
  };
}

/** One list entry that matched, recorded on the order as the reason for the outcome. */
export interface ScreeningEvidence {
  /** The list the entry comes from (CSL `source`, e.g. "Entity List (EL) - Bureau of Industry and Security"). */
  list: string;
  entryId: string;
  entryName: string;
  /** The entry name or alternate name that matched best. */
  matchedName: string;
  /** 0..1 (1 = identical after normalisation). */
  score: number;
  /** Countries of the entry's addresses, citizenships and nationalities. */
  countries: string[];
  /** Why this entry counts, e.g. "name score 0.97, country corroborated (RU)". */
  reason: string;
}

export interface ScreeningResult {
  outcome: ScreeningOutcome;
  /** Matched entries, best first; empty when clear. */
  evidence: ScreeningEvidence[];
  provider: 'csl' | 'trade-gov';
  listVersion?: string;
  /** ISO 8601. */
  screenedAt: string;
}

/** The service cannot answer now (timeout, 5xx, 429, network): retry later, never treat as clear. */
export class ScreeningUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ScreeningUnavailableError';
  }
}

export interface ScreeningProvider {
  screen(party: ScreeningParty, options?: { signal?: AbortSignal }): Promise<ScreeningResult>;
}

/**
 * Builds the provider named by `SCREENING_PROVIDER` (`csl` | `trade-gov`, default `trade-gov`).
 * `csl` reads `SCREENING_LIST_PATH` (required) and optional threshold
 * variables; `trade-gov` reads `SCREENING_BASE_URL` and the `screening-credentials` secret
 * (`SECRET_SCREENING_CREDENTIALS_ARN`), fetched lazily on the first call.
 */
export function createScreeningProviderFromEnv(env: NodeJS.ProcessEnv = process.env): ScreeningProvider {
  const kind = (env.SCREENING_PROVIDER ?? 'trade-gov').trim();
  if (kind === 'csl') return createCslProviderFromEnv(env);
  if (kind === 'trade-gov') return createTradeGovProviderFromEnv(env);
  throw new Error(
    `Invalid environment configuration: SCREENING_PROVIDER must be csl or trade-gov, got "${kind}"`,
  );
}
