import { performance } from 'node:perf_hooks';
import { CslEngine, type CslEntry } from '../../shared/screening/csl-engine.ts';
import { recordFigure } from './table.ts';

/**
 * Screening engine throughput: matches per second against a list of 10,000 generated entries
 * (companies and individuals with alternate names, several countries), for a query mix of exact
 * names, misspellings, reordered names and ordinary non-matching names. Deterministic (seeded).
 */
const ENTRIES = 10_000;
const QUERIES = 4_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ra',
  'ten',
  'vor',
  'zi',
  'an',
  'bel',
  'dor',
  'ek',
  'fa',
  'gu',
  'hal',
  'in',
  'jo',
  'ku',
  'lem',
  'nor',
  'os',
  'pe',
  'qu',
  'ris',
  'sa',
  'tor',
  'ul',
  'vi',
  'wen',
  'yo',
  'zar',
];
const word = () => {
  const n = 2 + Math.floor(random() * 2);
  let w = '';
  for (let i = 0; i < n; i++) w += pick(SYLLABLES);
  return w.charAt(0).toUpperCase() + w.slice(1);
};
const BUSINESS = [
  'Trading',
  'Technology',
  'Industries',
  'Bank',
  'Group',
  'Holdings',
  'Electronics',
  'Logistics',
  'Shipping',
  'Engineering',
  'Import Export',
  'Aerospace',
  'Systems',
  'Energy',
  'Chemicals',
];
const LEGAL = ['LLC', 'Ltd', 'GmbH', 'S.A.', 'OOO', 'Co., Ltd.', 'Inc.', 'FZE', 'Pte. Ltd.', 'JSC', ''];
const COUNTRIES = ['RU', 'CN', 'IR', 'KP', 'SY', 'AE', 'HK', 'TR', 'VE', 'BY', 'DE', 'US', 'GB', 'FR', 'PK'];

function company(): string {
  return `${word()} ${random() < 0.5 ? word() + ' ' : ''}${pick(BUSINESS)} ${pick(LEGAL)}`.trim();
}
function person(): string {
  return `${word().toUpperCase()}, ${word()} ${random() < 0.4 ? word() : ''}`.trim();
}

function generate(): CslEntry[] {
  return Array.from({ length: ENTRIES }, (_, i) => {
    const individual = random() < 0.4;
    const name = individual ? person() : company();
    const alts = Array.from({ length: Math.floor(random() * 3) }, () => (individual ? person() : company()));
    return {
      id: String(i),
      name,
      alt_names: alts,
      addresses: [{ country: pick(COUNTRIES), city: word() }],
      citizenships: [],
      nationalities: [],
      source: 'Generated List (GEN)',
      type: individual ? 'Individual' : 'Entity',
    };
  });
}

function misspell(name: string): string {
  const chars = [...name];
  const i = 1 + Math.floor(random() * (chars.length - 2));
  chars[i] = chars[i] === 'a' ? 'e' : 'a';
  return chars.join('');
}
function reorder(name: string): string {
  return name.replace(/,/g, '').split(' ').reverse().join(' ');
}

export default async function (): Promise<void> {
  const entries = generate();
  const built = performance.now();
  const engine = new CslEngine(entries);
  const buildMs = performance.now() - built;

  const queries = Array.from({ length: QUERIES }, () => {
    const entry = pick(entries);
    const kind = pick(['exact', 'misspelt', 'reordered', 'ordinary'] as const);
    const name =
      kind === 'exact'
        ? entry.name
        : kind === 'misspelt'
          ? misspell(entry.name)
          : kind === 'reordered'
            ? reorder(entry.name)
            : `${pick(['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Wingtip', 'Litware'])} ${pick(BUSINESS)} ${pick(LEGAL)}`;
    return { kind, name, country: entry.addresses[0]!.country!, id: entry.id };
  });

  // warm-up (JIT)
  for (const q of queries.slice(0, 200)) engine.screen({ name: q.name, country: q.country });

  const latencies: number[] = [];
  const found: Record<string, [number, number]> = {};
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  for (const q of queries) {
    const t = performance.now();
    const result = engine.screen({ name: q.name, country: q.country });
    latencies.push(performance.now() - t);
    const hit = result.evidence.some((e) => e.entryId === q.id);
    const slot = found[q.kind] ?? [0, 0];
    found[q.kind] = slot;
    slot[0] += q.kind === 'ordinary' ? (result.outcome === 'clear' ? 1 : 0) : hit ? 1 : 0;
    slot[1]++;
  }
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

  console.log(
    `list: ${ENTRIES} entries, ${engine.indexedNames} indexed names; index built in ${buildMs.toFixed(0)} ms`,
  );
  console.log(
    `screening: ${QUERIES} parties in ${totalMs.toFixed(0)} ms → ${Math.round((QUERIES / totalMs) * 1000)} matches/s ` +
      `(${Math.round((QUERIES / cpuMs) * 1000)} per CPU-second, independent of other load on the machine); ` +
      `latency p50 ${pct(50).toFixed(3)} ms, p99 ${pct(99).toFixed(3)} ms`,
  );
  console.log(
    'found: ' +
      Object.entries(found)
        .map(([k, [ok, n]]) => `${k} ${ok}/${n}${k === 'ordinary' ? ' clear' : ''}`)
        .join(', '),
  );
  let hits = 0;
  let asked = 0;
  for (const k of ['exact', 'misspelt', 'reordered']) {
    hits += found[k]?.[0] ?? 0;
    asked += found[k]?.[1] ?? 0;
  }
  recordFigure({
    figure: `screening matches (${ENTRIES} entries)`,
    value: (QUERIES / totalMs) * 1000,
    unit: 'matches/s',
  });
  recordFigure({
    figure: 'screening recall (exact, misspelt, reordered)',
    value: hits / asked,
    unit: 'share found',
  });
}
