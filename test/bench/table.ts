import { appendFileSync } from 'node:fs';

/**
 * One line of the bench table: a figure measured in this run beside the limit or peer it is judged
 * against, measured in the same run (same machine, same load), and the target it must meet.
 */
export interface BenchFigure {
  /** What is measured, e.g. `Zuora items through the handler`. */
  figure: string;
  /** This run's value and its unit. */
  value: number;
  unit: string;
  /** The physical limit or peer measured in the same run, e.g. `bare parse + put` 1,480 items/s. */
  peer?: { label: string; value: number };
  /**
   * `higher` (default): ratio = value / peer, the bigger the better; `lower`: ratio = value / peer,
   * the smaller the better (a latency or a size against its budget).
   */
  better?: 'higher' | 'lower';
  /** The goal, e.g. `≥ 0.5` (of the ratio) or `≥ 200/s` (of the value); printed, never asserted. */
  target?: string;
}

/**
 * Adds a figure to the table `npm run bench` prints at the end (and writes to `bench-results/`).
 * A section is one `test/bench/<name>.bench.ts` whose default export measures and calls this once
 * per figure; the runner finds the file, runs it in its own process and collects what it recorded.
 */
export function recordFigure(f: BenchFigure): void {
  const file = process.env.BENCH_FIGURES_FILE;
  const ratio = f.peer && f.peer.value !== 0 ? f.value / f.peer.value : undefined;
  const row = { ...f, ratio };
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
  const peer = f.peer ? `; ${f.peer.label} ${fmt(f.peer.value)} → ratio ${ratio?.toFixed(2)}` : '';
  console.log(`  ▸ ${f.figure}: ${fmt(f.value)} ${f.unit}${peer}${f.target ? ` (target ${f.target})` : ''}`);
}

/** A number as the table prints it: 3 significant figures, thousands separated. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
