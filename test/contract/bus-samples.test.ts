import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventCatalog, eventDefinition, eventFamilies } from '../../shared/events/catalog/index.ts';
import { repoRoot } from '../helpers/reference.ts';

/**
 * `events/bus/<detail-type>.json` holds one published `detail` per event type: the samples users read
 * and `npm run send` replays. They must stay in step with the catalog schemas.
 */
const busDir = join(repoRoot, 'events/bus');
const samples = readdirSync(busDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    type: f.slice(0, -'.json'.length),
    detail: JSON.parse(readFileSync(join(busDir, f), 'utf8')) as unknown,
  }));

describe('bus event samples', () => {
  it('has a sample for every catalog type and every event family', () => {
    const types = new Set(samples.map((s) => s.type));
    const missing = Object.keys(eventCatalog).filter((t) => !types.has(t));
    expect(missing).toEqual([]);
    for (const prefix of Object.keys(eventFamilies)) {
      expect(
        samples.some((s) => s.type.startsWith(prefix)),
        `a sample of family ${prefix}`,
      ).toBe(true);
    }
  });

  it.each(samples)('$type parses with its catalog schema and names a tenant', ({ type, detail }) => {
    const definition = eventDefinition(type);
    expect(definition, `${type} is not a catalog type or family`).toBeDefined();
    const parsed = definition!.schema.safeParse(detail);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect((detail as { tenant?: unknown }).tenant).toEqual(expect.any(String));
    expect((detail as { tenant: string }).tenant.length).toBeGreaterThan(0);
  });

  it('rejects a detail without a tenant (the check above can fail)', () => {
    const { tenant: _t, ...rest } = samples.find((s) => s.type === 'order.accepted')!.detail as Record<
      string,
      unknown
    >;
    expect(eventDefinition('order.accepted')!.schema.safeParse(rest).success).toBe(false);
  });
});
