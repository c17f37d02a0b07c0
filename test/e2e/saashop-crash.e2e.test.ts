import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type Runtime, startRuntime } from '../../local/runtime.ts';
import { pollNow, postedStatuses, suiteTable } from '../helpers/saashop.ts';

/**
 * The SaaShop channel under 30 % faults in every partner sandbox, with a poll killed (SIGKILL)
 * between claiming events and fetching their orders: a child process runs the suite until the poll
 * has claimed and the first fetch is in flight, and is killed. A restart on the same data folder
 * resumes the claimed events once their lease runs out: 17 FULFILLED, 2 REJECTED, 1 failed, each
 * reported to SaaShop exactly once, one Zuora order per hub order.
 */
let rt: Runtime | undefined;
let dataDir: string;
let phase1: ChildProcess | undefined;
let table: ReturnType<typeof suiteTable> | undefined;
afterAll(async () => {
  if (phase1 && phase1.exitCode === null && phase1.signalCode === null) phase1.kill('SIGKILL');
  table?.close();
  await rt?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Published {
  kind: 'clear' | 'restricted' | 'unknown';
  orderId: string;
  eventId: string;
}

function runPhase1(dir: string): Promise<Published[]> {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  phase1 = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/fixtures/saashop-crash-phase1.ts', dir], {
    cwd: repo,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = phase1;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => {
      err += String(d);
    });
    child.stdout!.on('data', (d) => {
      out += String(d);
      const line = /READY ([^\n]+)\n/.exec(out);
      if (line) {
        child.kill('SIGKILL');
        child.once('exit', () => resolve(JSON.parse(line[1]!) as Published[]));
      }
    });
    child.once('exit', (code) => {
      if (!/READY/.test(out)) reject(new Error(`phase 1 exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

it('30 % faults and a poll killed between claim and fetch: the restart finishes everything exactly once', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sb-saashop-crash-'));
  const published = await runPhase1(dataDir);
  expect(published).toHaveLength(20);

  rt = await startRuntime({ port: 0, dataDir, quiet: true });
  for (const name of ['saashop', 'zuora', 'salesforce', 'mail', 'screening']) {
    rt.sandbox(name).faults = { errorRate: 0.3, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
  }
  table = suiteTable(rt.dataDir);
  const held = published[0]!;
  // Claimed by the dead poll, not finished: leased (not due) until the lease runs out.
  expect((await table.events.get(held.eventId))?.status).toBe('PENDING');

  const expected = (kind: string) =>
    kind === 'clear' ? ['ProvisioningStarted', 'ProvisioningCompleted'] : ['ProvisioningFailed'];
  const runtime = rt;
  let settled = false;
  for (let round = 0; round < 80 && !settled; round++) {
    await runtime.advanceClock(200); // past the poll lease (180 s), retry delays and visibility timeouts
    await pollNow(runtime.url);
    await runtime.drain(120_000);
    const posted = postedStatuses(runtime.sandbox('saashop').records);
    settled = published.every((p) => (posted.get(p.orderId)?.length ?? 0) >= expected(p.kind).length);
  }
  let unsettled = '';
  if (!settled) {
    // Say what is missing, not just that something is.
    const posted = postedStatuses(runtime.sandbox('saashop').records);
    const hub = await table.allOrders('saashop');
    for (const p of published) {
      const order = hub.find((o) => o.channelOrderId === p.orderId);
      const record = await table.events.get(p.eventId);
      unsettled += `${p.kind} ${p.orderId}: posted ${posted.get(p.orderId)?.join('+')}, order ${order?.status}, event ${record?.status}/${record?.attempts}\n`;
    }
  }
  expect(settled, unsettled).toBe(true);
  await runtime.drain(120_000);

  const hub = await table.allOrders('saashop');
  const posted = postedStatuses(runtime.sandbox('saashop').records);
  for (const p of published) {
    const mine = hub.filter((o) => o.channelOrderId === p.orderId);
    expect(mine, p.kind).toHaveLength(p.kind === 'unknown' ? 0 : 1);
    if (mine[0]) {
      expect(mine[0].status).toBe(p.kind === 'clear' ? 'FULFILLED' : 'REJECTED');
      const creates = runtime
        .sandbox('zuora')
        .records.filter((r) => r.kind === 'order.created' && r.idempotencyKey === mine[0]!.orderId);
      expect(creates).toHaveLength(p.kind === 'clear' ? 1 : 0);
    }
    expect(posted.get(p.orderId), p.kind).toEqual(expected(p.kind));
  }
  expect(hub.filter((o) => o.status === 'FULFILLED')).toHaveLength(17);
  expect(hub.filter((o) => o.status === 'REJECTED')).toHaveLength(2);
  const unknown = published.find((p) => p.kind === 'unknown')!;
  expect(await table.events.get(unknown.eventId)).toMatchObject({
    status: 'FAILED',
    code: 'UNKNOWN_PRODUCT',
  });
  // The event whose fetch was cut by the crash was taken again after its lease.
  expect((await table.events.get(held.eventId))?.attempts).toBeGreaterThanOrEqual(2);
  expect(runtime.sandbox('saashop').records.filter((r) => r.kind === 'request.refused')).toHaveLength(0);
}, 600_000);
