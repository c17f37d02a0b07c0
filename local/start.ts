import './quiet-warnings.ts';
import { parseCli } from './cli/kit.ts';
import { startRuntime } from './runtime.ts';

/**
 * `npm start`: the whole suite on one machine. Prints the URL and the dev credentials; Ctrl-C stops
 * queues and schedules, flushes sandboxes and closes the embedded DynamoDB cleanly.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

const { values } = parseCli({
  name: 'npm start --',
  usage: `usage: npm start [-- --port <n>] [--host <address>] [--data <dir>]
  Runs the whole suite locally over HTTP (default port: PORT or 3000; host: HOST or 127.0.0.1;
  data folder: .switchboard). Ctrl-C stops it cleanly.`,
  options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' } },
});
const portText = values.port ?? process.env.PORT ?? '3000';
if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
  process.stderr.write(`npm start --: --port must be a port number, got ${portText} (see --help)\n`);
  process.exit(2);
}
const port = Number(portText);
const runtime = await startRuntime({
  port,
  host: values.host ?? process.env.HOST ?? '127.0.0.1',
  warm: true,
  ...(values.data ? { dataDir: values.data } : {}),
});
// `npm run dev` (local/dev.ts) registers its file watcher here before importing this file.
await (globalThis as { [k: symbol]: ((r: typeof runtime) => Promise<void>) | undefined })[
  Symbol.for('switchboard.afterStart')
]?.(runtime);

const lines = [
  '',
  `Switchboard is running at ${runtime.url}  (data: ${runtime.dataDir})`,
  `  API reference: ${runtime.url}/docs/    OpenAPI: ${runtime.url}/openapi.json    health: ${runtime.url}/health`,
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
