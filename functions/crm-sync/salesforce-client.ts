import type { ClientCredentials } from '../../shared/clients/credentials.ts';
import { HttpClient } from '../../shared/clients/http.ts';
import { TokenCache } from '../../shared/clients/token-cache.ts';
import type { Clock } from '../../shared/clock.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';

/**
 * Salesforce REST client: OAuth 2.0 client credentials flow (`POST /services/oauth2/token`, answer
 * carries the `instance_url` every later call goes to), the token cached and refreshed once on 401
 * (`INVALID_SESSION_ID`), and the Composite API. Salesforce errors are arrays of
 * `{errorCode, message, fields}`; lock and limit codes are retryable, the rest are permanent.
 */
export const SALESFORCE_API_VERSION = 'v62.0';

export interface SalesforceError {
  errorCode?: string;
  message?: string;
  fields?: string[];
}

export interface CompositeSubrequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  referenceId: string;
  body?: Record<string, unknown>;
}

export interface CompositeSubresponse {
  referenceId: string;
  httpStatusCode: number;
  body: unknown;
}

const RETRYABLE_CODES = new Set([
  'UNABLE_TO_LOCK_ROW',
  'REQUEST_LIMIT_EXCEEDED',
  'SERVER_UNAVAILABLE',
  'QUERY_TIMEOUT',
]);

/** `[{errorCode, message, fields}]` → one readable sentence (no field values: they may be personal data). */
export function describeErrors(errors: SalesforceError[]): string {
  return errors
    .map(
      (e) =>
        `${e.errorCode ?? 'ERROR'}: ${e.message ?? 'no message'}${e.fields?.length ? ` (fields ${e.fields.join(', ')})` : ''}`,
    )
    .join('; ');
}

export function isErrorArray(body: unknown): body is SalesforceError[] {
  return Array.isArray(body) && body.every((e) => e && typeof e === 'object' && 'errorCode' in e);
}

/** Throws TransientError for lock/limit codes, else PermanentError naming every error. */
export function throwForErrors(operation: string, errors: SalesforceError[]): never {
  const text = describeErrors(errors);
  if (errors.some((e) => RETRYABLE_CODES.has(e.errorCode ?? ''))) {
    throw new TransientError(`Salesforce ${operation} failed, retryable (${text})`);
  }
  const partnerCode = errors.find((e) => e.errorCode)?.errorCode;
  throw new PermanentError(`Salesforce refused the ${operation}: ${text}`, 'SALESFORCE_REFUSED', {
    ...(partnerCode ? { partnerCode } : {}),
  });
}

interface SalesforceSession {
  token: string;
  instanceUrl: string;
  expiresAtMs: number;
}

export class SalesforceClient {
  private readonly session: TokenCache<SalesforceSession>;

  constructor(
    private readonly options: {
      loginUrl: string;
      credentials: () => Promise<ClientCredentials>;
      clock: Clock;
      /** Salesforce does not say how long a token lives; re-authenticate after this (ms). */
      sessionTtlMs?: number;
      fetchImpl?: typeof fetch;
    },
    private readonly login = new HttpClient({
      baseUrl: options.loginUrl,
      defaultTimeoutMs: 10_000,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    }),
  ) {
    this.session = new TokenCache(() => this.authenticate(), options.clock, 0);
  }

  private async authenticate(): Promise<SalesforceSession> {
    const creds = await this.options.credentials();
    const res = await this.login.request<{
      access_token?: string;
      instance_url?: string;
      error?: string;
      error_description?: string;
    }>('/services/oauth2/token', {
      method: 'POST',
      operation: 'salesforce.oauth',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: creds.clientId,
        client_secret: creds.clientSecret,
      }),
    });
    if (res.status !== 200 || !res.body?.access_token || !res.body.instance_url) {
      throw new PermanentError(
        `Salesforce refused the OAuth client credentials (HTTP ${res.status}: ${res.body?.error ?? 'no error code'})`,
        'SALESFORCE_AUTH',
      );
    }
    return {
      token: res.body.access_token,
      instanceUrl: res.body.instance_url,
      expiresAtMs: this.options.clock.now().getTime() + (this.options.sessionTtlMs ?? 30 * 60_000),
    };
  }

  /** One composite request (`allOrNone`), retried once with a fresh token on 401. */
  async composite(
    operation: string,
    compositeRequest: CompositeSubrequest[],
  ): Promise<CompositeSubresponse[]> {
    const res = await this.session.send(operation, (session) =>
      new HttpClient({
        baseUrl: session.instanceUrl,
        defaultTimeoutMs: 20_000,
        ...(this.options.fetchImpl ? { fetchImpl: this.options.fetchImpl } : {}),
      }).request<{ compositeResponse?: CompositeSubresponse[] } | SalesforceError[]>(
        `/services/data/${SALESFORCE_API_VERSION}/composite`,
        {
          method: 'POST',
          operation,
          headers: { authorization: `Bearer ${session.token}` },
          body: { allOrNone: true, compositeRequest },
        },
      ),
    );
    if (res.status === 200 && !Array.isArray(res.body) && res.body?.compositeResponse)
      return res.body.compositeResponse;
    if (isErrorArray(res.body)) throwForErrors(operation, res.body);
    throw new PermanentError(`Salesforce answered HTTP ${res.status} to ${operation}`, 'SALESFORCE_REFUSED');
  }
}
