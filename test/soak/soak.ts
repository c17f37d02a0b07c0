import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../local/quiet-warnings.ts';
import { parseCli, progress, runCli, usage } from '../../local/cli/kit.ts';
import type { Runtime } from '../../local/runtime.ts';

/**
 * The chaos soak (`npm run soak -- --minutes N`): the suite runs as a child process on its own data
 * folder and port (loopback only); the driver sends orders at a steady rate while, at random moments
 * (seeded), it sets partner sandbox faults (errors, latency, timeouts), moves the clock, and kills
 * the suite with SIGKILL and restarts it on the same data. At the end it clears the faults, restarts
 * the suite in this process, drains (clock past retries and leases, the reconciler run) and checks
 * the invariants, printed as a table. Exit 1 on any violation.
 */
const REPO = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const FAULTED = ['zuora', 'salesforce', 'mail'];
const TERMINAL = new Set(['FULFILLED', 'REJECTED', 'ERROR']);

export interface SoakOptions {
  minutes: number;
  seed: number;
  port: number;
  log?: (line: string) => void;
}
export interface InvariantRow {
  invariant: string;
  expected: string;
  actual: string;
  ok: boolean;
}
export interface SoakResult {
  rows: InvariantRow[];
  counts: { ordersSent: number; ordersAccepted: number; kills: number; faults: number; clockMoves: number };
}

/** mulberry32: a small seeded generator, so a run can be repeated with `--seed`. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startSuite(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SWITCHBOARD_DATA_DIR: dataDir,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out = (out + c).slice(-20_000)));
  child.stderr!.on('data', (c) => (out = (out + c).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`suite did not start within 120 s: ${out.slice(-500)}`));
    }, 120_000);
    const onData = () => {
      if (out.includes('Switchboard is running at')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`suite exited ${code} while starting: ${out.slice(-500)}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

async function token(url: string, dataDir: string, kind: string): Promise<string> {
  const clients = JSON.parse(await readFile(join(dataDir, 'dev-clients.json'), 'utf8')) as Array<{
    kind: string;
    clientId: string;
    clientSecret: string;
  }>;
  const client = clients.find((c) => c.kind === kind);
  if (!client) throw new Error(`no dev client ${kind}`);
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token refused: ${res.status}`);
  return body.access_token;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  const random = rng(options.seed);
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-soak-'));
  const url = `http://127.0.0.1:${options.port}`;
  const sample = JSON.parse(await readFile(join(REPO, 'events/api/orders/valid.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const counts = { ordersSent: 0, ordersAccepted: 0, kills: 0, faults: 0, clockMoves: 0 };
  const accepted: string[] = [];
  let child = await startSuite(dataDir, options.port);
  let distributor = await token(url, dataDir, 'distributor');
  const end = Date.now() + options.minutes * 60_000;
  let nextChaos = Date.now() + 5_000;
  let lastLog = 0;
  try {
    while (Date.now() < end) {
      // Steady traffic: one order every ~250 ms (the answer is awaited, bounded by a timeout).
      counts.ordersSent++;
      try {
        const res = await fetch(`${url}/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${distributor}` },
          body: JSON.stringify({ ...sample, channelOrderId: `SOAK-${options.seed}-${counts.ordersSent}` }),
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await res.json()) as { orderId?: string };
        if ((res.status === 201 || res.status === 202) && body.orderId) {
          accepted.push(body.orderId);
          counts.ordersAccepted++;
        } else if (res.status === 401) distributor = await token(url, dataDir, 'distributor');
      } catch {
        // refused while the suite was down or slow under faults: not accepted, not counted
      }
      await sleep(250);

      if (Date.now() >= nextChaos) {
        nextChaos = Date.now() + 3_000 + random() * 12_000;
        const roll = random();
        if (roll < 0.2) {
          await kill(child);
          counts.kills++;
          log(`chaos: SIGKILL and restart (${counts.kills})`);
          child = await startSuite(dataDir, options.port);
          distributor = await token(url, dataDir, 'distributor');
        } else if (roll < 0.7) {
          const name = FAULTED[Math.floor(random() * FAULTED.length)]!;
          const faults = {
            errorRate: Math.round(random() * 50) / 100,
            status: 503,
            latencyMs: Math.floor(random() * 300),
            timeoutRate: Math.round(random() * 10) / 100,
            rateLimitRate: 0,
          };
          await fetch(`${url}/_sandbox/${name}/_faults`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(faults),
            signal: AbortSignal.timeout(5_000),
          }).catch(() => undefined);
          counts.faults++;
          log(`chaos: ${name} faults ${JSON.stringify(faults)}`);
        } else {
          const seconds = Math.floor(random() * 600);
          await fetch(`${url}/_local/clock`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ advanceSeconds: seconds }),
            signal: AbortSignal.timeout(5_000),
          }).catch(() => undefined);
          counts.clockMoves++;
          log(`chaos: clock +${seconds} s`);
        }
      }
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        log(
          `${Math.ceil((end - Date.now()) / 1000)} s left: ${counts.ordersAccepted}/${counts.ordersSent} orders accepted, ${counts.kills} kills, ${counts.faults} faults, ${counts.clockMoves} clock moves`,
        );
      }
    }
    // The suite goes down hard one last time; the drain runs in this process on the same data.
    await kill(child);
  } catch (error) {
    await kill(child);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  log('draining: faults cleared, clock past retries and leases, reconciler runs');
  // Loaded only now, with the functions' logs silenced (their loggers read the level at import).
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const { startRuntime } = await import('../../local/runtime.ts');
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    for (const name of rt.sandboxNames)
      await fetch(`${rt.url}/_sandbox/${name}/_faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errorRate: 0, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 }),
      });
    const status = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      await rt.drain(120_000);
      const t = await rt.token('distributor');
      for (const id of accepted) {
        if (TERMINAL.has(status.get(id) ?? '')) continue;
        const res = await fetch(`${rt.url}/v1/orders/${id}`, { headers: { authorization: `Bearer ${t}` } });
        status.set(id, res.ok ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`);
      }
      if (accepted.every((id) => TERMINAL.has(status.get(id) ?? ''))) break;
      await rt.advanceClock(1_000);
      await rt.runSchedule('order-reconciler');
    }
    await rt.drain(120_000);
    return { rows: invariants(rt, accepted, status), counts };
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function invariants(rt: Runtime, accepted: string[], status: Map<string, string>): InvariantRow[] {
  const rows: InvariantRow[] = [];
  const row = (invariant: string, expected: number, actual: number) =>
    rows.push({ invariant, expected: String(expected), actual: String(actual), ok: expected === actual });

  const notTerminal = accepted.filter((id) => !TERMINAL.has(status.get(id) ?? ''));
  row('accepted orders not terminal', 0, notTerminal.length);
  const fulfilled = accepted.filter((id) => status.get(id) === 'FULFILLED');
  const zuora = rt.sandbox('zuora').records as Array<{ kind: string; idempotencyKey?: string }>;
  const creates = new Map<string, number>();
  for (const r of zuora)
    if (r.kind === 'order.created' && r.idempotencyKey)
      creates.set(r.idempotencyKey, (creates.get(r.idempotencyKey) ?? 0) + 1);
  row('orders with a duplicate Zuora order', 0, [...creates.values()].filter((n) => n > 1).length);
  row('fulfilled orders without a Zuora order', 0, fulfilled.filter((id) => !creates.has(id)).length);
  const sf = rt.sandbox('salesforce').records as Array<{
    kind: string;
    sobject?: string;
    externalId?: string;
  }>;
  const sfCreates = new Map<string, number>();
  for (const r of sf)
    if (r.kind === 'sobject.created' && r.externalId) {
      const key = `${r.sobject}/${r.externalId}`;
      sfCreates.set(key, (sfCreates.get(key) ?? 0) + 1);
    }
  row('duplicate Salesforce records', 0, [...sfCreates.values()].filter((n) => n > 1).length);
  // Each fulfilled order mails its licence once to the buyer and once to the partner: a second
  // e-mail for the same order to the same recipients is a duplicate.
  const mail = (rt.sandbox('mail').records as Array<{ kind: string; to?: string[] }>)
    .filter((r) => r.kind === 'email')
    .map((r) => ({ to: (r.to ?? []).join(','), text: JSON.stringify(r) }));
  const mailsOf = (id: string) => {
    const perRecipient = new Map<string, number>();
    for (const m of mail)
      if (m.text.includes(`lic_${id.replace(/^ord_/, '')}`))
        perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
    return perRecipient;
  };
  const mails = new Map(fulfilled.map((id) => [id, mailsOf(id)]));
  row(
    'fulfilled orders with a duplicate licence mail',
    0,
    fulfilled.filter((id) => [...mails.get(id)!.values()].some((n) => n > 1)).length,
  );
  row(
    'fulfilled orders without a licence mail',
    0,
    fulfilled.filter((id) => mails.get(id)!.size === 0).length,
  );
  let stuck = 0;
  for (const q of rt.queues.values()) {
    const s = q.stats();
    stuck += s.visible + s.delayed + s.inFlight;
  }
  row('messages stuck outside a DLQ', 0, stuck);
  return rows;
}

export function table(rows: InvariantRow[]): string {
  const head = ['invariant', 'expected', 'actual', 'ok'];
  const cells = rows.map((r) => [r.invariant, r.expected, r.actual, r.ok ? 'ok' : 'VIOLATED']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const USAGE = `Usage: npm run soak -- --minutes N [--seed S] [--port P]

Chaos soak on loopback: runs the suite as a child process on a temporary data folder, sends orders at
a steady rate while randomly setting partner sandbox faults, moving the clock and killing the suite
with SIGKILL (restarted on the same data); then drains and prints the invariants as a table.
Exit 0 when every invariant holds, 1 otherwise.

Options:
  --minutes N   how long the chaos runs (required, 0.1 to 240)
  --seed S      seed of the random choices (default: the current time)
  --port P      port of the suite (default 3917)
  -h, --help    this text`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseCli({
    name: 'npm run soak',
    usage: USAGE,
    options: { minutes: { type: 'string' }, seed: { type: 'string' }, port: { type: 'string' } },
  });
  runCli('npm run soak', async () => {
    const minutes = Number(values.minutes);
    if (values.minutes === undefined || !Number.isFinite(minutes) || minutes < 0.1 || minutes > 240)
      usage('--minutes must be a number from 0.1 to 240');
    const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
    if (!Number.isInteger(seed)) usage('--seed must be a whole number');
    const port = values.port === undefined ? 3917 : Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      usage('--port must be a whole number from 1 to 65535');
    process.stderr.write(`npm run soak: seed ${seed}, ${minutes} min on port ${port}\n`);
    const p = progress('soak', 10_000);
    const result = await runSoak({ minutes, seed, port, log: (l) => process.stderr.write(`${l}\n`) });
    p.done();
    process.stdout.write(`${table(result.rows)}\n${JSON.stringify(result.counts)}\n`);
    return result.rows.every((r) => r.ok) ? 0 : 1;
  });
}
