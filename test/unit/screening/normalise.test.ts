import { describe, expect, it } from 'vitest';
import {
  foldCase,
  jaroWinkler,
  levenshtein,
  nameSimilarity,
  normaliseName,
  rawTokens,
  splitAka,
  tokenSimilarity,
} from '../../../shared/screening/normalise.ts';

describe('foldCase', () => {
  it('lower-cases and strips diacritics, mapping letters that do not decompose', () => {
    expect(foldCase('ÁLVAREZ PEÑA, José')).toBe('alvarez pena, jose');
    expect(foldCase('Müller-Lüdenscheidt Straße')).toBe('muller-ludenscheidt strasse');
    expect(foldCase('Øresund Łódź Æther Çelik Ümit Petrović')).toBe(
      'oresund lodz aether celik umit petrovic',
    );
  });
});

describe('Cyrillic transliteration', () => {
  it('romanises Cyrillic names as the lists do', () => {
    expect(foldCase('ООО Восток')).toBe('ooo vostok');
    expect(foldCase('ВТБ Банк')).toBe('vtb bank');
    expect(foldCase('Транснефть')).toBe('transneft');
    expect(normaliseName('ООО «Ростех»')).toEqual(['rostekh']);
  });
});

describe('rawTokens', () => {
  it('joins apostrophes and dots inside words and splits on other punctuation', () => {
    expect(rawTokens("JIM'ALE, Ahmed")).toEqual(['jimale', 'ahmed']);
    expect(rawTokens('Kestrel Maritime Holdings S.A.')).toEqual(['kestrel', 'maritime', 'holdings', 'sa']);
    expect(rawTokens('Hi-Shine Technology (HK) Co.,Ltd')).toEqual([
      'hi',
      'shine',
      'technology',
      'hk',
      'co',
      'ltd',
    ]);
    expect(rawTokens('  ---  ')).toEqual([]);
  });
});

describe('normaliseName', () => {
  it('drops legal forms and filler words whatever their spelling', () => {
    for (const name of [
      'Acme Widgets LLC',
      'ACME WIDGETS LTD.',
      'Acme Widgets GmbH',
      'Acme Widgets S.A.',
      'OOO Acme Widgets',
      'Acme Widgets Co., Ltd.',
      'Acme Widgets, Open Joint Stock Company',
      'Acme Widgets S.A. de C.V.',
      'The Acme Widgets Company Limited',
    ]) {
      expect(normaliseName(name), name).toEqual(['acme', 'widgets']);
    }
  });

  it('expands common abbreviations', () => {
    expect(normaliseName('Semiconductor Systems Intl., Inc.')).toEqual([
      'semiconductor',
      'systems',
      'international',
    ]);
    expect(normaliseName("Acme Int'l Mfg")).toEqual(['acme', 'international', 'manufacturing']);
  });

  it('keeps the legal words when nothing else is left', () => {
    expect(normaliseName('The Company Ltd')).toEqual(['the', 'company', 'ltd']);
  });
});

describe('splitAka', () => {
  it('splits a name that embeds its aliases', () => {
    expect(splitAka('Training 2 Business Academy, a.k.a. T2BA, a.k.a. Academy of Business Training')).toEqual(
      ['Training 2 Business Academy', 'T2BA', 'Academy of Business Training'],
    );
    expect(splitAka('Plain Name Ltd')).toEqual(['Plain Name Ltd']);
  });
});

describe('string metrics', () => {
  it('computes the textbook Jaro-Winkler values', () => {
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.961, 3);
    expect(jaroWinkler('dwayne', 'duane')).toBeCloseTo(0.84, 2);
    expect(jaroWinkler('dixon', 'dicksonx')).toBeCloseTo(0.813, 3);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
    expect(jaroWinkler('same', 'same')).toBe(1);
  });

  it('computes Levenshtein distances', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('flaw', 'flaw')).toBe(0);
  });
});

describe('tokenSimilarity', () => {
  it('forgives one typo in a word, even on its first letter', () => {
    expect(tokenSimilarity('nacional', 'nacionall')).toBeGreaterThan(0.9);
    expect(tokenSimilarity('kuba', 'cuba')).toBeGreaterThanOrEqual(0.8);
  });
  it('gives no credit to unrelated words, short words or codes that differ', () => {
    expect(tokenSimilarity('bank', 'trading')).toBe(0);
    expect(tokenSimilarity('vtb', 'vtc')).toBe(0);
    expect(tokenSimilarity('t2ba', 's2ba')).toBe(0);
  });
  it('matches an initial with a word starting with it', () => {
    expect(tokenSimilarity('r', 'raul')).toBe(0.9);
    expect(tokenSimilarity('r', 'luis')).toBe(0);
  });
});

describe('nameSimilarity', () => {
  it('ignores token order', () => {
    expect(nameSimilarity(['lazaro', 'chao'], ['chao', 'lazaro'])).toBe(1);
  });
  it('penalises tokens present on one side only', () => {
    const subset = nameSimilarity(['bank', 'moscow'], ['moscow', 'industrial', 'bank', 'commerce']);
    expect(subset).toBeLessThan(0.7);
  });
  it('matches spacing variants through the concatenated form', () => {
    expect(nameSimilarity(['hishine', 'technology'], ['hi', 'shine', 'technology'])).toBeGreaterThan(0.9);
  });
  it('is 0 for an empty side', () => {
    expect(nameSimilarity([], ['a'])).toBe(0);
  });
});
