import type { Clock } from '../clock.ts';
import { TransientError } from '../errors.ts';

/**
 * An access token (or session) of a partner API, cached until `marginMs` before it expires. Concurrent
 * callers share one token request (single flight); `invalidate()` after a 401 forces a fresh one.
 */
export class TokenCache<T extends { expiresAtMs: number }> {
  private current: T | undefined;
  private pending: Promise<T> | undefined;

  constructor(
    private readonly fetchToken: () => Promise<T>,
    private readonly clock: Clock,
    private readonly marginMs = 60_000,
  ) {}

  async get(): Promise<T> {
    if (this.current && this.current.expiresAtMs - this.marginMs > this.clock.now().getTime())
      return this.current;
    this.pending ??= this.fetchToken()
      .then((token) => {
        this.current = token;
        return token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  invalidate(): void {
    this.current = undefined;
  }

  /**
   * Sends with the cached token; on a 401 the token is dropped and the call sent once more with a new
   * one. A second 401 is a TransientError (the partner may be rotating credentials).
   */
  async send<R extends { status: number }>(operation: string, call: (token: T) => Promise<R>): Promise<R> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await call(await this.get());
      if (res.status !== 401) return res;
      this.invalidate();
    }
    throw new TransientError(`${operation}: the partner kept answering 401 after a token refresh`);
  }
}
