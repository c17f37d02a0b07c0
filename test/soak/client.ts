import { type DevClientFile, fetchDevToken, readDevClients } from '../../local/cli/common.ts';

/** An answer of the suite; `undefined` from `call` means none came (suite down, timeout). */
export interface Answer {
  status: number;
  /** Parsed JSON (the text when not JSON): read field by field. */
  body: any;
}

/**
 * The soak's HTTP client of the suite under test: dev tokens per client kind (re-read from
 * `dev-clients.json`, refetched after a 401 — the clock moves expire them), and requests that
 * never throw: a refused connection or a timeout is an absent answer, retried by the caller.
 */
export class SuiteClient {
  private readonly tokens = new Map<string, string>();

  constructor(
    public url: string,
    private readonly dataDir: string,
  ) {}

  devClient(kind: string): DevClientFile {
    const client = readDevClients(this.dataDir).find((c) => c.kind === kind);
    if (!client) throw new Error(`no dev client ${kind}`);
    return client;
  }

  async token(kind: string): Promise<string | undefined> {
    const cached = this.tokens.get(kind);
    if (cached) return cached;
    try {
      const token = await Promise.race([
        fetchDevToken(this.url, this.devClient(kind)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('token timeout')), 10_000)),
      ]);
      this.tokens.set(kind, token);
      return token;
    } catch {
      return undefined;
    }
  }

  async call(
    method: string,
    path: string,
    options: { as?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Answer | undefined> {
    const answer = await this.once(method, path, options);
    // A 401: the token expired (clock moves) or predates a restart; one retry with a fresh one.
    return answer?.status === 401 && options.as ? this.once(method, path, options) : answer;
  }

  private async once(
    method: string,
    path: string,
    options: { as?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<Answer | undefined> {
    const token = options.as ? await this.token(options.as) : undefined;
    if (options.as && !token) return undefined;
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...options.headers,
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      if (res.status === 401 && options.as) this.tokens.delete(options.as);
      return { status: res.status, body };
    } catch {
      return undefined;
    }
  }
}
