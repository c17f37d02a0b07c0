import '../../local/quiet-warnings.ts';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run bench`: runs every `test/bench/*.bench.ts` section (or those named on the command line:
 * `npm run bench -- webhooks`). Each section runs in its own Node process — sections start their own
 * local runtime, and module-scope AWS clients must not outlive the runtime they were pointed at —
 * and its default export prints its own figures. Figures are printed, never asserted.
 */
const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

if (args[0] === '--section') {
  const section = (await import(pathToFileURL(args[1]!).href)) as { default: () => Promise<void> };
  await section.default();
  process.exit(0);
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => args.length === 0 || args.some((o) => f.includes(o)))
  .sort();

console.log(`Switchboard benchmarks — node ${process.version}, ${new Date().toISOString()}`);
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file.replace('.bench.ts', '')}`);
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--section', join(here, file)],
    {
      stdio: 'inherit',
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR' },
    },
  );
  if (run.status !== 0) {
    failed++;
    console.log(`(section ${file} failed with exit code ${run.status})`);
  }
}
process.exit(failed ? 1 : 0);
