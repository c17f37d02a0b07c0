import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../../shared/clients/token-cache.ts';
import { TransientError } from '../../../shared/errors.ts';

describe('TokenCache', () => {
  const clockAt = (ms: { now: number }) => ({ now: () => new Date(ms.now) });

  it('shares one fetch between concurrent callers and reuses the token until the margin', async () => {
    const time = { now: 0 };
    let fetches = 0;
    const cache = new TokenCache(
      async () => ({ value: `t${++fetches}`, expiresAtMs: time.now + 3_600_000 }),
      clockAt(time),
    );
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a.value).toBe('t1');
    expect(b.value).toBe('t1');
    time.now += 3_600_000 - 60_001;
    expect((await cache.get()).value).toBe('t1');
    time.now += 2;
    expect((await cache.get()).value).toBe('t2');
  });

  it('refreshes once on a 401 and gives up with a TransientError on a second', async () => {
    let fetches = 0;
    const cache = new TokenCache(
      async () => ({ value: `t${++fetches}`, expiresAtMs: Date.now() + 3_600_000 }),
      { now: () => new Date() },
    );
    const seen: string[] = [];
    const ok = await cache.send('op', async (t) => {
      seen.push(t.value);
      return { status: seen.length === 1 ? 401 : 200 };
    });
    expect(ok.status).toBe(200);
    expect(seen).toEqual(['t1', 't2']);
    await expect(cache.send('op', async () => ({ status: 401 }))).rejects.toBeInstanceOf(TransientError);
  });

  it('does not cache a failed fetch', async () => {
    let calls = 0;
    const cache = new TokenCache(
      async () => {
        calls++;
        if (calls === 1) throw new Error('down');
        return { value: 'ok', expiresAtMs: Date.now() + 3_600_000 };
      },
      { now: () => new Date() },
    );
    await expect(cache.get()).rejects.toThrow('down');
    expect((await cache.get()).value).toBe('ok');
  });
});
