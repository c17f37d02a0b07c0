import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type Runtime, startRuntime } from '../../local/runtime.ts';
import { api } from '../helpers/runtime.ts';

/**
 * Crash mid-pipeline: a child process runs the suite, provisions orders in Zuora and is killed with
 * SIGKILL; the queued messages for Salesforce and licensing are lost too. After a restart on the same
 * data folder the reconciler finds the orders stuck in BILLING_PROVISIONED (GSI query, no scan),
 * re-publishes their last event and the pipeline completes them, with no second Zuora subscription.
 */
let rt: Runtime | undefined;
let dataDir: string;
let phase1: ChildProcess | undefined;
afterAll(async () => {
  if (phase1 && phase1.exitCode === null && phase1.signalCode === null) phase1.kill('SIGKILL');
  await rt?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function runPhase1(dir: string): Promise<string[]> {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/e2e/fixtures/orders-crash-phase1.ts', dir, '5'],
    {
      cwd: repo,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    child.stdout.on('data', (d) => {
      out += String(d);
      const line = /READY ([^\n]+)\n/.exec(out);
      if (line) {
        child.kill('SIGKILL');
        child.once('exit', () => resolve(line[1]!.trim().split(' ')));
      }
    });
    child.once('exit', (code) => {
      if (!/READY/.test(out)) reject(new Error(`phase 1 exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

it('completes orders stranded by a crash and lost events, through the reconciler', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sb-orders-crash-'));
  const ids = await runPhase1(dataDir);
  expect(ids).toHaveLength(5);
  for (const q of ['crm-sync', 'licence-provisioner'])
    rmSync(join(dataDir, 'queues', `${q}.json`), { force: true });

  rt = await startRuntime({ port: 0, dataDir, quiet: true });
  let token = await rt.token('distributor');
  const statusOf = async (id: string) => (await api(rt!, 'GET', `/v1/orders/${id}`, { token })).body.status;
  await rt.drain(60_000);
  for (const id of ids) expect(await statusOf(id)).toBe('BILLING_PROVISIONED');

  await rt.advanceClock(1000); // past ORDER_STUCK_AFTER_SECONDS (900)
  await rt.runSchedule('order-reconciler');
  await rt.drain(120_000);
  token = await rt.token('distributor');
  for (const id of ids) expect(await statusOf(id)).toBe('FULFILLED');
  const creates = rt.sandbox('zuora').records.filter((r) => r.kind === 'order.created');
  for (const id of ids) expect(creates.filter((r) => r.idempotencyKey === id)).toHaveLength(1);
}, 300_000);
