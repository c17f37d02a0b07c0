import './quiet-warnings.ts';
import { startRuntime } from './runtime.ts';

/**
 * `npm start`: the whole suite on one machine. Prints the URL and the dev credentials; Ctrl-C stops
 * queues and schedules, flushes sandboxes and closes the embedded DynamoDB cleanly.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

const port = Number(process.env.PORT ?? 3000);
const runtime = await startRuntime({ port, host: process.env.HOST ?? '127.0.0.1', warm: true });
// `npm run dev` (local/dev.ts) registers its file watcher here before importing this file.
await (globalThis as { [k: symbol]: ((r: typeof runtime) => Promise<void>) | undefined })[
  Symbol.for('switchboard.afterStart')
]?.(runtime);

const lines = [
  '',
  `Switchboard is running at ${runtime.url}  (data: ${runtime.dataDir})`,
  `  OpenAPI: ${runtime.url}/openapi.json    health: ${runtime.url}/health`,
  `  sandboxes: ${runtime.url}/_sandbox/<${runtime.sandboxNames.join('|')}>/_records`,
  '',
  'Dev OAuth clients (also in dev-clients.json in the data folder):',
  ...runtime.devClients.map(
    (c) =>
      `  ${c.kind.padEnd(12)} tenant=${c.tenant.padEnd(10)} client_id=${c.clientId}  client_secret=${c.clientSecret}` +
      (c.username ? `  username=${c.username}  password=${c.password}` : '') +
      `\n  ${''.padEnd(12)} grants=${c.grantTypes.join(',')}  scopes=${c.scopes.join(' ')}`,
  ),
  '',
  `Operator console: ${runtime.url}/console/   username=${runtime.devOperator.username}  password=${runtime.devOperator.password}`,
  '',
  `Try: npm run send -- events/api/...json      Stop: Ctrl-C`,
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping Switchboard…\n`);
  const force = setTimeout(() => {
    process.stderr.write('forced exit after 10 s\n');
    process.exit(1);
  }, 10_000);
  force.unref();
  await runtime.stop();
  process.stdout.write('stopped cleanly.\n');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
