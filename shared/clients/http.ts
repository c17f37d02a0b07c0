import { randomUUID } from 'node:crypto';
import { TransientError } from '../errors.ts';
import { logger } from '../logger.ts';
import { traced } from '../telemetry.ts';

/**
 * Small typed HTTP client for partner APIs: per-attempt timeout, retries with full-jitter exponential
 * backoff on network errors, timeouts, 429 and 5xx (honouring Retry-After), and a structured outcome
 * the caller maps to its partner's error format. Bodies are never logged (they carry customer data).
 */
export interface HttpCallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** JSON-serialised unless it is already a string / FormData / URLSearchParams. */
  body?: unknown;
  timeoutMs?: number;
  /** Total attempts including the first (1 = no retry). */
  attempts?: number;
  /** Which statuses are retried (default: 408, 425, 429, 500, 502, 503, 504). */
  retryOn?: (status: number) => boolean;
  /** Label for logs, e.g. `zuora.createOrder`. */
  operation: string;
  /** Caller's cancellation (e.g. a request time budget); combined with the per-attempt timeout, ends retries. */
  signal?: AbortSignal;
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: T;
  attempts: number;
}

export interface HttpClientConfig {
  baseUrl: string;
  defaultTimeoutMs?: number;
  defaultAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

const defaultRetryOn = (status: number) => [408, 425, 429, 500, 502, 503, 504].includes(status);

/** Parses `Retry-After` (seconds or HTTP date) into milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Full jitter: uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

export class HttpClient {
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly config: HttpClientConfig) {
    this.fetchImpl = config.fetchImpl ?? fetch;
    this.sleep = config.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  url(path: string): string {
    return new URL(
      path.replace(/^\//, ''),
      this.config.baseUrl.endsWith('/') ? this.config.baseUrl : `${this.config.baseUrl}/`,
    ).toString();
  }

  /**
   * Sends the request, retrying transient failures. Resolves with the final response whatever its
   * status (the caller decides what a 4xx means); rejects with TransientError when every attempt
   * failed on the network, timed out, or was answered with a retryable status.
   */
  request<T = unknown>(path: string, options: HttpCallOptions): Promise<HttpResult<T>> {
    // One trace subsegment per partner operation (named by operation, never by URL: URLs can carry ids).
    return traced(`partner ${options.operation}`, () => this.send<T>(path, options));
  }

  private async send<T>(path: string, options: HttpCallOptions): Promise<HttpResult<T>> {
    const attempts = options.attempts ?? this.config.defaultAttempts ?? 3;
    const retryOn = options.retryOn ?? defaultRetryOn;
    const timeoutMs = options.timeoutMs ?? this.config.defaultTimeoutMs ?? 10_000;
    const url = this.url(path);
    let lastError: unknown;
    let retryAfterMs: number | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const started = Date.now();
      try {
        const res = await this.fetchImpl(url, {
          method: options.method ?? 'GET',
          headers: { accept: 'application/json', ...this.contentHeaders(options.body), ...options.headers },
          body: this.encodeBody(options.body),
          signal: options.signal
            ? AbortSignal.any([AbortSignal.timeout(timeoutMs), options.signal])
            : AbortSignal.timeout(timeoutMs),
          redirect: 'manual',
        });
        const body = (await this.decode(res)) as T;
        logger.debug('partner call', {
          operation: options.operation,
          status: res.status,
          attempt,
          ms: Date.now() - started,
        });
        if (!retryOn(res.status) || attempt === attempts) {
          if (retryOn(res.status)) {
            throw new TransientError(
              `${options.operation} answered ${res.status} after ${attempt} attempts`,
              {
                retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
              },
            );
          }
          return { status: res.status, headers: res.headers, body, attempts: attempt };
        }
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        lastError = new Error(`status ${res.status}`);
      } catch (error) {
        if (error instanceof TransientError) throw error;
        lastError = error;
        retryAfterMs = undefined;
        logger.warn('partner call failed', {
          operation: options.operation,
          attempt,
          reason: (error as Error).name,
        });
        if (attempt === attempts || options.signal?.aborted) break;
      }
      const delay = Math.max(
        retryAfterMs ?? 0,
        backoffDelay(attempt, this.config.baseDelayMs ?? 200, this.config.maxDelayMs ?? 5_000),
      );
      await this.sleep(Math.min(delay, this.config.maxDelayMs ?? 5_000));
    }
    throw new TransientError(
      `${options.operation} failed after ${attempts} attempts: ${(lastError as Error)?.message ?? lastError}`,
      {
        cause: lastError,
      },
    );
  }

  private contentHeaders(body: unknown): Record<string, string> {
    if (body === undefined || typeof body === 'string' || body instanceof FormData) return {};
    if (body instanceof URLSearchParams) return { 'content-type': 'application/x-www-form-urlencoded' };
    return { 'content-type': 'application/json' };
  }

  private encodeBody(body: unknown): string | FormData | URLSearchParams | undefined {
    if (body === undefined) return undefined;
    if (typeof body === 'string' || body instanceof FormData || body instanceof URLSearchParams) return body;
    return JSON.stringify(body);
  }

  private async decode(res: Response): Promise<unknown> {
    const text = await res.text();
    if (!text) return undefined;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    }
    return text;
  }
}

/** A fresh request id for partners that want one per call (SaaShop's `X-Request-ID`). */
export const requestId = (): string => randomUUID();
