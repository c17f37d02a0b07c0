import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_LIST_PATH } from '../../../local/screening/demo-list.ts';
import {
  CslEngine,
  createCslProviderFromEnv,
  DEFAULT_THRESHOLDS,
  parseCslEntries,
} from '../../../shared/screening/csl-engine.ts';
import { createScreeningProviderFromEnv, type ScreeningParty } from '../../../shared/screening/provider.ts';

/** The real CSL samples (trade.gov JSON entry format), read in place. */
const REAL_LISTS = fileURLToPath(
  new URL('../../../../shared/reference/data/screening/lists', import.meta.url),
);

let engine: CslEngine;
beforeAll(() => {
  engine = CslEngine.fromPaths(REAL_LISTS);
});

const screen = (name: string, country: string, extra: Partial<ScreeningParty> = {}) =>
  engine.screen({ name, country, ...extra });

describe('CslEngine over the real CSL entries', () => {
  it('loads every list file and versions the content', () => {
    expect(engine.entries.length).toBe(56);
    expect(engine.listVersion).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(new Set(engine.entries.map((e) => e.source)).size).toBe(11);
  });

  it.each([
    ['BANCO NACIONAL DE CUBA', 'ES', '306'],
    ['Murat Peker', 'TR', '946f840d05372d41c4baeebc61dddf1363929de5'],
    ['FERLAND COMPANY LIMITED', 'CY', '15987'],
    ['Hi-Shine Technology (HK) Limited', 'HK', '6e18b2585a002248ecb071d5fa8b26cdfd2f4144'],
    ['KINTRACO', 'NL', '764591eb90f07df75ea691e978e8350667d444a4'],
  ])('blocks the exact name %s in a corroborating country', (name, country, id) => {
    const result = screen(name, country);
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]).toMatchObject({ entryId: id, score: 1 });
  });

  it.each([
    ['National Bank of Cuba', 'PA', '306'],
    ['Transneft', 'RU', '17254'],
    ['Bank VTB', 'RU', '17013'],
    ['Vneshtorgbank', 'RU', '17013'],
    ['Iran Brightness', 'IR', '11043'],
    ['Karamay City Commercial Bank', 'CN', '15268'],
  ])('matches the alternate name %s', (name, country, id) => {
    const result = screen(name, country);
    expect(result.outcome).not.toBe('clear');
    expect(result.evidence[0]!.entryId).toBe(id);
    expect(result.evidence[0]!.score).toBeGreaterThanOrEqual(DEFAULT_THRESHOLDS.block);
  });

  it.each([
    ['Banco Nacional de Kuba', 'ES', '306'],
    ['Banko Nacionall de Cuba', 'CH', '306'],
    ['Brilliant Technology Ltd', 'HK', 'cc91dc115ff25e9f2e3cab1b9d8adf75f5956982'],
    ['Fazal Rahim Fareed', 'AF', 'fabe2145af20dcff1163dbf2a6292f379aa9f27f'],
    ['Transnyeft', 'RU', '17254'],
    ['Sokolenko Vitali', 'UA', '16422'],
  ])('matches the misspelling %s', (name, country, id) => {
    const result = screen(name, country);
    expect(result.outcome).not.toBe('clear');
    expect(result.evidence[0]!.entryId).toBe(id);
  });

  it.each([
    ['Lazaro Chao', 'GB', '521'],
    ['Ahmed Nur Ali Jimale', 'SO', '6982'],
    ['Peker Murat', 'TR', '946f840d05372d41c4baeebc61dddf1363929de5'],
    ['Business Training Academy', 'RU', '385c6ccf9a8683027c6a981a8467a1ee357a4ee2'],
    ['Kunlun Bank', 'CN', '15268'],
  ])('matches the reordered name %s', (name, country, id) => {
    const result = screen(name, country);
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]!.entryId).toBe(id);
  });

  it('matches accented and differently punctuated spellings', () => {
    expect(screen('Bánco Naciónal de Cúba', 'ES').outcome).toBe('blocked');
    expect(screen("Jim'ale, Ahmed Nur Ali", 'SO').evidence[0]!.score).toBe(1);
    expect(screen('Jimale Ahmed Nur Ali', 'SO').evidence[0]!.score).toBe(1);
    expect(screen('KAL-TEK LABS', 'US').outcome).toBe('blocked');
  });

  it.each([
    ['ВТБ Банк', 'RU', '17013'],
    ['Транснефть', 'RU', '17254'],
  ])('matches the Cyrillic spelling %s', (name, country, id) => {
    const result = screen(name, country);
    expect(result.outcome).not.toBe('clear');
    expect(result.evidence[0]!.entryId).toBe(id);
  });

  it.each([
    ['Ferland Co., Ltd.', 'CY'],
    ['Ferland Limited', 'CY'],
    ['FERLAND CO LTD', 'CY'],
    ['Kuo Oil (S) Pte Ltd', 'SG'],
    ['Kintraco B.V.', 'NL'],
    ['Transneft PJSC', 'RU'],
    ['Semiconductor Systems International Inc', 'DK'],
    ['Dynasense Photonics Company Limited', 'HK'],
  ])('ignores company-suffix variants: %s', (name, country) => {
    const result = screen(name, country);
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]!.score).toBeGreaterThanOrEqual(DEFAULT_THRESHOLDS.block);
  });

  it.each([
    ['Acme Corporation', 'US'],
    ['Microsoft Corporation', 'US'],
    ['Bank of America', 'US'],
    ['Bank of China', 'CN'],
    ['Deutsche Bank AG', 'DE'],
    ['Siemens AG', 'DE'],
    ['Arrow Electronics Inc', 'US'],
    ['Global Technology Trading Ltd', 'HK'],
    ['Moscow Industrial Bank', 'RU'],
    ['Hong Kong Electronics Co Ltd', 'HK'],
    ['Academy of Business', 'RU'],
    ['S3BA', 'RU'],
    ['John Smith', 'US'],
    ['Ahmed Ali', 'AE'],
    ['Abdul Khan', 'PK'],
    ['Construction Company of Kabul', 'AF'],
  ])('clears the ordinary name %s', (name, country) => {
    const result = screen(name, country);
    expect(result.outcome).toBe('clear');
    expect(result.evidence).toEqual([]);
  });

  it('separates blocked from review by country and address', () => {
    // same exact name; only the party's location differs
    expect(screen('Banco Nacional de Cuba', 'ES').outcome).toBe('blocked');
    expect(screen('Banco Nacional de Cuba', 'US').outcome).toBe('review');
    expect(
      screen('Banco Nacional de Cuba', 'US', { address: { country: 'PA', city: 'Panama City' } }).outcome,
    ).toBe('blocked');
    // a city or postal code shared with a listed address in another country is not evidence
    expect(
      screen('Banco Nacional de Cuba', 'CU', { address: { country: 'CU', city: 'Zürich' } }).outcome,
    ).toBe('review');
    expect(
      screen('Banco Nacional de Cuba', 'CU', { address: { country: 'CU', postalCode: 'e 28036' } }).outcome,
    ).toBe('review');
    // citizenship and nationality corroborate individuals
    expect(screen('Chao Lazaro', 'FR').outcome).toBe('blocked');
    expect(screen('Chao Lazaro', 'DE').outcome).toBe('blocked');
    expect(screen('Chao Lazaro', 'US').outcome).toBe('review');
  });

  it('corroborates by city or postal code when the listed address has no country', () => {
    const small = new CslEngine(
      parseCslEntries([
        {
          id: 'a1',
          name: 'Quillfeather Instruments',
          addresses: [
            { address: '1 Long Road', city: 'Nowhereville', postal_code: 'NW-1234', country: null },
          ],
          source: 'Test List (TL)',
        },
      ]),
    );
    const party = (address?: ScreeningParty['address']) =>
      small.screen({ name: 'Quillfeather Instruments Ltd', country: 'GB', ...(address ? { address } : {}) });
    expect(party().outcome).toBe('review');
    expect(party({ country: 'GB', city: 'NOWHEREVILLE' }).outcome).toBe('blocked');
    expect(party({ country: 'GB', postalCode: 'nw 1234' }).outcome).toBe('blocked');
    expect(party({ country: 'GB', city: 'Elsewhere', postalCode: '99999' }).outcome).toBe('review');
    expect(party({ country: 'GB', city: 'Nowhereville' }).evidence[0]!.reason).toContain(
      'address corroborated',
    );
  });

  it('refers an exact match on an entry without any country for review', () => {
    const result = screen('Juwhan Yun', 'KR');
    expect(result.outcome).toBe('review');
    expect(result.evidence[0]).toMatchObject({ score: 1, countries: [] });
    expect(result.evidence[0]!.reason).toContain('no country or address corroboration');
  });

  it('refers a medium score for review even in a corroborating country', () => {
    const result = screen('China National Import Export Co', 'CN');
    expect(result.outcome).toBe('review');
    expect(result.evidence[0]!.score).toBeLessThan(DEFAULT_THRESHOLDS.block);
    expect(result.evidence[0]!.score).toBeGreaterThanOrEqual(DEFAULT_THRESHOLDS.review);
    expect(result.evidence[0]!.reason).toContain('partial name match');
  });

  it('never clears a party whose name has nothing to compare', () => {
    expect(screen('  ', 'US')).toMatchObject({ outcome: 'review', evidence: [] });
    expect(screen('---', 'US').outcome).toBe('review');
  });

  it('screens the party alternate names too', () => {
    const result = screen('Perfectly Ordinary Holdings', 'RU', {
      alternateNames: ['Rostec State Corporation'],
    });
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]).toMatchObject({ entryId: '17260', matchedName: 'ROSTEC STATE CORPORATION' });
  });

  it('records list, entry, matched name, score, countries and reason as evidence', () => {
    const result = screen('National Bank of Cuba', 'JP');
    expect(result).toMatchObject({ outcome: 'blocked', listVersion: engine.listVersion });
    expect(result.evidence[0]).toEqual({
      list: 'Specially Designated Nationals (SDN) - Treasury Department',
      entryId: '306',
      entryName: 'BANCO NACIONAL DE CUBA',
      matchedName: 'NATIONAL BANK OF CUBA',
      score: 1,
      countries: ['CH', 'ES', 'JP', 'PA'],
      reason: 'name score 1.000; country corroborated (JP)',
    });
    expect(Date.parse(result.screenedAt)).not.toBeNaN();
  });

  it('reports each matching entry once, best first', () => {
    const result = screen('T2BA', 'RU');
    const ids = result.evidence.map((e) => e.entryId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining([
        'c46ba5ffd6da15f8e524b58f59123894bb63e2f8',
        '385c6ccf9a8683027c6a981a8467a1ee357a4ee2',
      ]),
    );
  });

  it('scores every listed name 1 whatever its token order, case and accents (property)', () => {
    const names = engine.entries
      .flatMap((e) => [e.name, ...e.alt_names])
      .filter((n) => !/a\.k\.a\./i.test(n));
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.integer(), fc.boolean(), (name, seed, upper) => {
        const words = name.split(/\s+/);
        const shuffled = words
          .map((w, i) => ({ w, k: Math.sin(seed + i) }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.w)
          .join(' ');
        const query = upper ? shuffled.toUpperCase() : shuffled.toLowerCase();
        const best = engine.search(query, { minScore: 0 })[0];
        expect(best?.score).toBeGreaterThanOrEqual(0.999);
      }),
      { numRuns: 200 },
    );
  });
});

describe('thresholds', () => {
  it('are configurable', () => {
    const strict = CslEngine.fromPaths(REAL_LISTS, { thresholds: { block: 0.99, review: 0.95 } });
    expect(strict.screen({ name: 'Banco Nacional de Kuba', country: 'ES' }).outcome).toBe('review');
    expect(strict.screen({ name: 'China National Import Export Co', country: 'CN' }).outcome).toBe('clear');
    expect(engine.screen({ name: 'Banco Nacional de Kuba', country: 'ES' }).outcome).toBe('blocked');
  });

  it('refuse an inconsistent configuration', () => {
    expect(() => new CslEngine([], { thresholds: { block: 0.8, review: 0.9 } })).toThrow(/review ≤ block/);
  });
});

describe('list loading', () => {
  it('accepts the trade.gov results envelope and comma-separated files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csl-'));
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    const entry = (id: number, name: string, country: string) => ({
      id,
      name,
      alt_names: null,
      addresses: [{ country }],
      source: 'Test List (TL)',
    });
    await writeFile(a, JSON.stringify({ total: 1, results: [entry(1, 'Alpha Omega Trading', 'FR')] }));
    await writeFile(b, JSON.stringify([entry(2, 'Beta Gamma Works', 'IT')]));
    const small = CslEngine.fromPaths(`${a},${b}`);
    expect(small.entries.map((e) => e.id)).toEqual(['1', '2']);
    expect(small.screen({ name: 'Beta Gamma Works SRL', country: 'IT' }).outcome).toBe('blocked');
  });

  it('names the malformed entry', () => {
    expect(() =>
      parseCslEntries([
        { id: 1, name: 'ok', source: 's' },
        { id: 2, source: 's' },
      ]),
    ).toThrow(/CSL entry 1 is invalid: name/);
    expect(() => parseCslEntries({ nope: true })).toThrow();
  });
});

describe('demo list', () => {
  const demo = CslEngine.fromPaths(DEMO_LIST_PATH);

  it('holds about twenty fictional companies and individuals in several countries', () => {
    expect(demo.entries.length).toBeGreaterThanOrEqual(20);
    expect(new Set(demo.entries.map((e) => e.type))).toEqual(new Set(['Entity', 'Individual']));
    expect(
      new Set(demo.entries.flatMap((e) => e.addresses.map((a) => a.country))).size,
    ).toBeGreaterThanOrEqual(10);
    expect(demo.entries.every((e) => e.alt_names.length > 0)).toBe(true);
  });

  it('blocks every demo entry in its own country and matches its unaccented alias', () => {
    for (const entry of demo.entries) {
      const country = entry.addresses[0]?.country;
      if (!country) continue;
      expect(demo.screen({ name: entry.name, country }).outcome, entry.name).toBe('blocked');
    }
    expect(demo.screen({ name: 'Umit Celik', country: 'TR' }).outcome).toBe('blocked');
    expect(demo.screen({ name: 'Mueller Luedenscheidt Maschinenbau GmbH', country: 'DE' }).outcome).toBe(
      'blocked',
    );
    expect(demo.screen({ name: 'Zenith Orbital Systems', country: 'US' }).outcome).toBe('review');
    expect(demo.screen({ name: 'Contoso Ltd', country: 'US' }).outcome).toBe('clear');
  });
});

describe('createScreeningProviderFromEnv', () => {
  it('builds the csl provider over SCREENING_LIST_PATH', async () => {
    const provider = createScreeningProviderFromEnv({
      SCREENING_PROVIDER: 'csl',
      SCREENING_LIST_PATH: REAL_LISTS,
    });
    const result = await provider.screen({ name: 'Rostec', country: 'RU' });
    expect(result).toMatchObject({ provider: 'csl', outcome: 'blocked', listVersion: engine.listVersion });
  });

  it('requires SCREENING_LIST_PATH: deployable code has no default list (the demo list is local)', async () => {
    expect(() => createCslProviderFromEnv({})).toThrow(/SCREENING_LIST_PATH is required/);
    expect(() => createScreeningProviderFromEnv({ SCREENING_PROVIDER: 'csl' })).toThrow(
      /SCREENING_LIST_PATH is required/,
    );
    const result = await createCslProviderFromEnv({ SCREENING_LIST_PATH: DEMO_LIST_PATH }).screen({
      name: 'Vostok DUC',
      country: 'RU',
    });
    expect(result.outcome).toBe('blocked');
  });

  it('honours an aborted signal', async () => {
    const provider = createCslProviderFromEnv({ SCREENING_LIST_PATH: DEMO_LIST_PATH });
    await expect(
      provider.screen({ name: 'x', country: 'US' }, { signal: AbortSignal.abort() }),
    ).rejects.toThrow();
  });

  it('refuses unknown providers, missing base URLs and bad thresholds', () => {
    expect(() => createScreeningProviderFromEnv({ SCREENING_PROVIDER: 'magic' })).toThrow(
      /SCREENING_PROVIDER/,
    );
    expect(() => createScreeningProviderFromEnv({})).toThrow(/SCREENING_BASE_URL/);
    expect(() =>
      createScreeningProviderFromEnv({
        SCREENING_PROVIDER: 'csl',
        SCREENING_LIST_PATH: DEMO_LIST_PATH,
        SCREENING_BLOCK_THRESHOLD: 'high',
      }),
    ).toThrow(/SCREENING_BLOCK_THRESHOLD/);
  });
});
