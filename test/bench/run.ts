import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run bench`: runs every `test/bench/*.bench.ts` section in turn (or those named on the command
 * line: `npm run bench -- webhooks`). Each section's default export prints its own figures.
 */
const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

console.log(`Switchboard benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const file of files) {
  const section = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  console.log(`\n## ${file.replace('.bench.ts', '')}`);
  await section.default();
}
process.exit(0);
