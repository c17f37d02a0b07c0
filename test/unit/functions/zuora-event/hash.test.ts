import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, itemHash } from '../../../../functions/zuora-event/hash.ts';

describe('calculedHash', () => {
  it('is stable under key order and differs by event type and by content', () => {
    const a = { zaccount: 'A1', product: { zcharge: 'C1', threshold: { unit: 'Giga', newCapacity: 10 } } };
    const b = { product: { threshold: { newCapacity: 10, unit: 'Giga' }, zcharge: 'C1' }, zaccount: 'A1' };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(itemHash('ZLINKUPDATED', a)).toBe(itemHash('ZLINKUPDATED', b));
    expect(itemHash('ZLINKUPDATED', a)).toMatch(/^[0-9a-f]{32}$/);
    expect(itemHash('PRODUCTLISTISMODIFIED', a)).not.toBe(itemHash('ZLINKUPDATED', a));
    expect(itemHash('ZLINKUPDATED', { ...a, zaccount: 'A2' })).not.toBe(itemHash('ZLINKUPDATED', a));
  });

  it('canonical JSON parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});
