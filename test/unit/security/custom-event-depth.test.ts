import { describe, expect, it } from 'vitest';
import { publishCustomEvent } from '../../../functions/webhook-dispatch/publish-event.ts';
import { systemClock } from '../../../shared/clock.ts';
import type { HubEvent } from '../../../shared/events/publisher.ts';
import { ulidGenerator } from '../../../shared/ids.ts';

/**
 * `POST /v1/webhooks/events` carries free-form `data`. A body of ~128k nested arrays fits in 256 KB
 * and parses, but serialising it overflows the stack: a 500 for bad input (and a cheap way to burn
 * Lambda time). Nesting is bounded and refused with a 400 that names `data`, publishing nothing.
 */
function deps() {
  const published: HubEvent[] = [];
  let claims = 0;
  return {
    published,
    claims: () => claims,
    deps: {
      publisher: { publish: async (events: HubEvent[]) => void published.push(...events) },
      ids: ulidGenerator,
      clock: systemClock,
      customEvents: {
        claim: async <C>(c: C) => {
          claims++;
          return c;
        },
      },
    } as unknown as Parameters<typeof publishCustomEvent>[2],
  };
}

const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('custom event data nesting', () => {
  it.each([120_000, 1_000, 40])(
    'refuses data nested %i levels deep with a 400 naming data',
    async (depth) => {
      const f = deps();
      const attempt = publishCustomEvent(
        { type: 'custom.deep', data: { a: nested(depth) } },
        { tenant: 'acme', idempotencyKey: 'k-1' },
        f.deps,
      );
      await expect(attempt).rejects.toMatchObject({ status: 400, details: [{ field: 'data' }] });
      expect(f.published).toHaveLength(0);
      expect(f.claims()).toBe(0);
    },
  );

  it('accepts ordinary nesting', async () => {
    const f = deps();
    await publishCustomEvent(
      { type: 'custom.ok', data: { a: { b: [{ c: nested(10) }] } } },
      { tenant: 'acme' },
      f.deps,
    );
    expect(f.published).toHaveLength(1);
  });
});
