import '../../local/quiet-warnings.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCli } from '../../local/cli/kit.ts';
import { type BenchFigure, fmt } from './table.ts';

/**
 * `npm run bench`: runs every `test/bench/*.bench.ts` section (or those named on the command line:
 * `npm run bench -- webhooks`). Each section runs in its own Node process — sections start their own
 * local runtime, and module-scope AWS clients must not outlive the runtime they were pointed at —
 * prints its own details and records its headline figures with `recordFigure` (`table.ts`). The run
 * ends with one table of every figure (this run, the limit or peer measured in the same run, the
 * ratio, the target) and writes it to `bench-results/<time>.json` (and `latest.json`) so two runs
 * can be compared. Figures are printed, never asserted.
 */
const here = dirname(fileURLToPath(import.meta.url));
// Section names come first; options after them (`npm run bench -- scale --records 100000`) go to the
// sections, which parse them (BENCH_ARGS) with the CLI kit.
const argv = process.argv.slice(2);
const firstSectionOption = argv.findIndex(
  (a, i) => i > 0 && a.startsWith('-') && !argv[i - 1]!.startsWith('-'),
);
const ownArgv = firstSectionOption < 0 ? argv : argv.slice(0, firstSectionOption);
const sectionArgs = firstSectionOption < 0 ? [] : argv.slice(firstSectionOption);
const { values: flags, positionals: names } = parseCli(
  {
    name: 'npm run bench --',
    usage: `usage: npm run bench -- [<section>…]
  Runs every test/bench/*.bench.ts in its own process (or only those whose name contains a <section>)
  and prints a table of figures. Progress goes to stderr.`,
    options: { section: { type: 'string' } },
    allowPositionals: true,
  },
  ownArgv,
);

if (flags.section) {
  const section = (await import(pathToFileURL(flags.section).href)) as { default: () => Promise<void> };
  await section.default();
  process.exit(0);
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  // `scale` (1 M records, minutes) runs only when named.
  .filter((f) => (names.length === 0 ? !f.startsWith('scale.') : names.some((o) => f.includes(o))))
  .sort();

console.log(`Switchboard benchmarks — node ${process.version}, ${new Date().toISOString()}`);
const figuresDir = join(tmpdir(), `switchboard-bench-${process.pid}`);
mkdirSync(figuresDir, { recursive: true });
let failed = 0;
const table: Array<BenchFigure & { section: string; ratio?: number }> = [];
for (const [i, file] of files.entries()) {
  const section = file.replace('.bench.ts', '');
  // Each section runs synchronously in a child process, so progress is one line per section.
  process.stderr.write(`bench: section ${i + 1}/${files.length} (${section})…\n`);
  console.log(`\n## ${section}`);
  const figuresFile = join(figuresDir, `${section}.jsonl`);
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--section', join(here, file)],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
        BENCH_FIGURES_FILE: figuresFile,
        BENCH_ARGS: JSON.stringify(sectionArgs),
      },
    },
  );
  if (run.status !== 0) {
    failed++;
    console.log(`(section ${file} failed with exit code ${run.status})`);
  }
  if (existsSync(figuresFile)) {
    for (const line of readFileSync(figuresFile, 'utf8').split('\n').filter(Boolean)) {
      table.push({ section, ...(JSON.parse(line) as BenchFigure & { ratio?: number }) });
    }
  }
}
rmSync(figuresDir, { recursive: true, force: true });

if (table.length) {
  const rows = table.map((r) => [
    r.section,
    r.figure,
    `${fmt(r.value)} ${r.unit}`,
    r.peer ? `${r.peer.label}: ${fmt(r.peer.value)}` : '—',
    r.ratio !== undefined ? r.ratio.toFixed(2) : '—',
    r.target ?? '',
  ]);
  const head = ['section', 'figure', 'this run', 'limit / peer (same run)', 'ratio', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n## Bench table\n\n${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  const outDir = join(here, '../../bench-results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify(
    {
      at: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      sections: names,
      figures: table,
    },
    null,
    2,
  );
  writeFileSync(join(outDir, `${stamp}.json`), json);
  writeFileSync(join(outDir, 'latest.json'), json);
  console.log(`\n(written to bench-results/${stamp}.json)`);
}
process.exit(failed ? 1 : 0);
