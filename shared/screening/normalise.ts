/**
 * Name normalisation and fuzzy similarity for restricted-party screening.
 *
 * A name becomes a list of comparison tokens:
 * 1. Unicode NFKD, combining marks removed (é → e), a few letters that do not decompose mapped
 *    (ß → ss, ø → o, ł → l, æ → ae…), lower case.
 * 2. Apostrophes and dots are removed inside words (JIM'ALE → jimale, S.A. → sa, Co. → co),
 *    `&` becomes a separator, every other punctuation character becomes a space.
 * 3. Legal-form phrases (all their words present, in any order: "open joint stock company") and
 *    suffixes (LLC, Ltd, GmbH, S.A., OOO, OAO, Co.…) and a few filler words (the, of, and) are
 *    dropped, unless nothing would be left.
 * 4. Common abbreviations are expanded (intl → international, natl → national, mfg → manufacturing).
 *
 * Token order is irrelevant to the score (see {@link nameSimilarity}), which handles "CHAO, Lazaro R."
 * against "Lazaro Chao".
 */

const LETTER_MAP: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
};

/**
 * Multi-word legal forms. Longer phrases first so "closed joint stock company" is removed before
 * "joint stock company" could leave "closed".
 */
const LEGAL_PHRASES: string[][] = [
  'open joint stock company',
  'closed joint stock company',
  'public joint stock company',
  'joint stock company',
  'limited liability company',
  'limited liability partnership',
  'public limited company',
  'private limited company',
  'company limited',
  'sa de cv',
  'societe anonyme',
  'sociedad anonima',
  'gmbh co kg',
  'co kg',
  'pty ltd',
  'pte ltd',
  'co ltd',
]
  .map((p) => p.split(' '))
  .sort((a, b) => b.length - a.length);

/** Single-token legal forms and business-form words that carry no identity. */
export const LEGAL_SUFFIXES = new Set([
  'llc',
  'llp',
  'lp',
  'ltd',
  'limited',
  'inc',
  'incorporated',
  'corp',
  'corporation',
  'co',
  'company',
  'cos',
  'plc',
  'gmbh',
  'mbh',
  'ag',
  'kg',
  'sa',
  'sas',
  'sarl',
  'srl',
  'spa',
  'bv',
  'nv',
  'ab',
  'as',
  'asa',
  'oy',
  'oyj',
  'kk',
  'pte',
  'pty',
  'ooo',
  'oao',
  'zao',
  'pao',
  'ao',
  'ojsc',
  'cjsc',
  'pjsc',
  'jsc',
  'ltda',
  'sl',
  'sae',
  'fze',
  'fzco',
  'fzc',
  'dmcc',
  'bhd',
  'sdn',
  'tbk',
  'kft',
  'zrt',
  'sro',
  'doo',
  'ek',
  'se',
]);

/** Words that never distinguish one party from another. */
const FILLER = new Set(['the', 'of', 'and', 'a', 'an', 'for']);

const ABBREVIATIONS: Record<string, string> = {
  intl: 'international',
  int: 'international',
  natl: 'national',
  mfg: 'manufacturing',
  mfrs: 'manufacturers',
  assn: 'association',
  assoc: 'associates',
  svcs: 'services',
  bros: 'brothers',
  dept: 'department',
  univ: 'university',
  tech: 'technology',
  technologies: 'technology',
  intn: 'international',
  sheikh: 'shaykh',
  shaikh: 'shaykh',
  mohammed: 'muhammad',
  mohamed: 'muhammad',
  mohammad: 'muhammad',
  muhammed: 'muhammad',
};

/**
 * Cyrillic → Latin, close to the transliteration OFAC and BIS use for Russian names (ВТБ → vtb,
 * Ростех → rostekh), so a party written in Cyrillic meets the romanised list entries.
 */
const CYRILLIC: Record<string, string> = {
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
  і: 'i',
  ї: 'yi',
  є: 'ye',
  ґ: 'g',
  ў: 'u',
  ј: 'j',
  љ: 'lj',
  њ: 'nj',
  ћ: 'c',
  ђ: 'dj',
  џ: 'dz',
};

/** Lower-cases, strips accents, maps letters that do not decompose and transliterates Cyrillic. */
export function foldCase(input: string): string {
  return (
    input
      .toLowerCase()
      // й and ё decompose under NFKD; transliterate Cyrillic first so they keep their own letters
      .replace(/[\u0400-\u04ff]/g, (c) => CYRILLIC[c] ?? c)
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .replace(/[ßæœøłđðþı]/g, (c) => LETTER_MAP[c] ?? c)
  );
}

/** Raw tokens: folded, punctuation removed, nothing dropped yet. */
export function rawTokens(input: string): string[] {
  return (
    foldCase(input)
      // apostrophes and dots join (JIM'ALE, S.A.); the Unicode apostrophe variants too
      .replace(/['’‘`´.]/g, '')
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim()
      .split(' ')
      .filter(Boolean)
  );
}

function dropPhrases(tokens: string[]): string[] {
  // a phrase is removed when all its words are present, in any order, so that token order never
  // changes the comparison tokens ("Open Joint-Stock Company X" ~ "X Company Joint-Stock Open")
  let out = tokens;
  for (const phrase of LEGAL_PHRASES) {
    while (phrase.every((word) => out.includes(word))) {
      const remaining = [...out];
      for (const word of phrase) remaining.splice(remaining.indexOf(word), 1);
      out = remaining;
    }
  }
  return out;
}

/**
 * The comparison tokens of a name (see the module comment). Never empty for a name that has at
 * least one letter or digit: when every token is a legal form or filler ("The Company"), the raw
 * tokens are kept.
 */
export function normaliseName(input: string): string[] {
  const raw = rawTokens(input).map((t) => ABBREVIATIONS[t] ?? t);
  const kept = dropPhrases(raw).filter((t) => !LEGAL_SUFFIXES.has(t) && !FILLER.has(t));
  return kept.length ? kept : raw;
}

/**
 * Splits a CSL name that embeds its aliases ("Training 2 Business Academy, a.k.a. T2BA") into the
 * name and its aliases.
 */
export function splitAka(name: string): string[] {
  return name
    .split(/[,;]?\s*\b(?:a\.?k\.?a|f\.?k\.?a|d\.?b\.?a)\b\.?\s*/i)
    .map((s) => s.trim().replace(/[,;]$/, ''))
    .filter((s) => s.length > 0);
}

/** Jaro-Winkler similarity (prefix scale 0.1, prefix up to 4), 0..1. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return 1;
  const la = a.length;
  const lb = b.length;
  if (!la || !lb) return 0;
  const window = Math.max(0, Math.floor(Math.max(la, lb) / 2) - 1);
  const matchedA = new Uint8Array(la);
  const matchedB = new Uint8Array(lb);
  let matches = 0;
  for (let i = 0; i < la; i++) {
    const from = Math.max(0, i - window);
    const to = Math.min(lb - 1, i + window);
    for (let j = from; j <= to; j++) {
      if (!matchedB[j] && a.charCodeAt(i) === b.charCodeAt(j)) {
        matchedA[i] = 1;
        matchedB[j] = 1;
        matches++;
        break;
      }
    }
  }
  if (!matches) return 0;
  let transpositions = 0;
  let k = 0;
  for (let i = 0; i < la; i++) {
    if (!matchedA[i]) continue;
    while (!matchedB[k]) k++;
    if (a.charCodeAt(i) !== b.charCodeAt(k)) transpositions++;
    k++;
  }
  const jaro = (matches / la + matches / lb + (matches - transpositions / 2) / matches) / 3;
  let prefix = 0;
  while (prefix < 4 && prefix < la && prefix < lb && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

/** Levenshtein distance (two-row dynamic programming). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = new Array<number>(b.length + 1);
  let curr = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      curr[j] = Math.min(prev[j]! + 1, curr[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length]!;
}

/** 1 - distance / longer length, 0..1. */
export function levenshteinRatio(a: string, b: string): number {
  const longer = Math.max(a.length, b.length);
  return longer ? 1 - levenshtein(a, b) / longer : 1;
}

/** Below this a token pair counts as unrelated (0), so unrelated words give no partial credit. */
const TOKEN_FLOOR = 0.8;

/**
 * Similarity of two tokens, 0..1: identical 1; an initial against a word starting with it 0.9
 * ("R" ~ "Raul"); otherwise the better of Jaro-Winkler (scaled by (1 + length ratio) / 2) and the
 * Levenshtein ratio (which forgives a wrong first letter, "Kuba" ~ "Cuba"), zeroed below
 * {@link TOKEN_FLOOR}. Tokens of
 * three characters or less, or containing digits, must be equal: one edit in them changes the word.
 */
export function tokenSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length === 1 || b.length === 1) return a[0] === b[0] ? 0.9 : 0;
  if (a.length <= 3 || b.length <= 3) return 0;
  // codes and numbered names (T2BA, S2BA, "150th") differ by one character and are different parties
  if (/\d/.test(a) || /\d/.test(b)) return 0;
  // Jaro-Winkler's prefix bonus over-rates a shared start on words of different lengths
  // ("Northwind" ~ "Norten" 0.88), so it is scaled by the length ratio
  const lengthRatio = Math.min(a.length, b.length) / Math.max(a.length, b.length);
  // the scaled Jaro-Winkler is at most (1 + r) / 2 and the Levenshtein ratio at most r
  if ((1 + lengthRatio) / 2 < TOKEN_FLOOR) return 0;
  const jw = jaroWinkler(a, b) * ((1 + lengthRatio) / 2);
  const s = jw >= lengthRatio ? jw : Math.max(jw, levenshteinRatio(a, b));
  return s >= TOKEN_FLOOR ? s : 0;
}

/** Weight of a token in the name score: longer tokens are more distinctive; initials count little. */
export const tokenWeight = (t: string): number => (t.length === 1 ? 0.5 : Math.min(t.length, 8));

let bestForCandidate = new Float64Array(16);

/**
 * Symmetric soft token-set score (a weighted, two-way Monge-Elkan): every token of each name is
 * paired with its most similar token in the other name, and the score is the weighted mean of
 * those similarities over the tokens of BOTH names. `sim(i, j)` is the similarity of query token i
 * and candidate token j (the engine passes a cached {@link tokenSimilarity}).
 */
export function softTokenSetScore(
  queryWeights: readonly number[],
  candidateWeights: readonly number[],
  sim: (i: number, j: number) => number,
): number {
  const nq = queryWeights.length;
  const nc = candidateWeights.length;
  if (!nq || !nc) return 0;
  if (bestForCandidate.length < nc) bestForCandidate = new Float64Array(nc * 2);
  bestForCandidate.fill(0, 0, nc);
  let num = 0;
  let den = 0;
  for (let i = 0; i < nq; i++) {
    let best = 0;
    for (let j = 0; j < nc; j++) {
      const s = sim(i, j);
      if (s > best) best = s;
      if (s > bestForCandidate[j]!) bestForCandidate[j] = s;
    }
    num += best * queryWeights[i]!;
    den += queryWeights[i]!;
  }
  for (let j = 0; j < nc; j++) {
    num += bestForCandidate[j]! * candidateWeights[j]!;
    den += candidateWeights[j]!;
  }
  return num / den;
}

/**
 * Levenshtein ratio of the concatenated names, for spacing variants ("HiShine" ~ "Hi Shine"). Only
 * computed when the two start alike and have close lengths (otherwise it cannot be high, or the
 * token score already covers the case); 0 otherwise.
 */
export function compactScore(query: string, candidate: string): number {
  if (query.length < 4 || candidate.length < 4) return 0;
  if (query.charCodeAt(0) !== candidate.charCodeAt(0) || query.charCodeAt(1) !== candidate.charCodeAt(1))
    return 0;
  const lengthRatio = Math.min(query.length, candidate.length) / Math.max(query.length, candidate.length);
  return lengthRatio >= 0.8 ? levenshteinRatio(query, candidate) : 0;
}

/**
 * Similarity of two normalised names, 0..1: the better of the soft token-set score (see
 * {@link softTokenSetScore}; weights {@link tokenWeight}) and the {@link compactScore}. It ignores
 * token order, forgives misspellings inside tokens, and penalises tokens present on one side only,
 * so "Bank of Moscow" does not match "Moscow Industrial Bank of Commerce" highly.
 */
export function nameSimilarity(query: readonly string[], candidate: readonly string[]): number {
  const tokenScore = softTokenSetScore(query.map(tokenWeight), candidate.map(tokenWeight), (i, j) =>
    tokenSimilarity(query[i]!, candidate[j]!),
  );
  if (tokenScore === 1 || !query.length || !candidate.length) return tokenScore;
  return Math.max(tokenScore, compactScore(query.join(''), candidate.join('')));
}
