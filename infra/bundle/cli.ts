import { readFileSync } from 'node:fs';
import { type BundleJob, bundleFunction } from './esbuild.ts';

/**
 * `node --import tsx infra/bundle/cli.ts <job.json>`: bundles one function (see `bundleFunction`).
 * CDK's local bundling hook is synchronous and esbuild plugins need its asynchronous API, so the
 * synth process runs each job here, in a child process, and waits for it.
 */
const jobFile = process.argv[2];
if (!jobFile) {
  process.stderr.write('usage: cli.ts <job.json>\n');
  process.exit(2);
}
try {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as BundleJob;
  const result = await bundleFunction(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
