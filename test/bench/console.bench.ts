import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../../console/build.ts';
import { localDynamoClient } from '../../local/dynamo.ts';
import { startRuntime } from '../../local/runtime.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { type Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { newId } from '../../shared/ids.ts';

/**
 * Console: first-load bytes (every file of `/console/`, gzip) against the 200 KB goal, and the
 * operations order list (`GET /v1/ops/orders`) p50/p99 over HTTP through the local suite with
 * `CONSOLE_BENCH_ORDERS` (10,000) orders in the table: unfiltered, by status, by channel + status,
 * by tenant, by search. Figures only.
 */
const ORDERS = Number(process.env.CONSOLE_BENCH_ORDERS ?? 10_000);
const STATUSES = ['FULFILLED', 'FULFILLED', 'FULFILLED', 'ERROR', 'NEEDS_REVIEW', 'ACCEPTED'] as const;

export default async function run() {
  const files = await buildConsole();
  let raw = 0;
  let gz = 0;
  for (const [, f] of files) {
    raw += f.body.length;
    gz += gzipSync(f.body, { level: 9 }).length;
  }
  console.log(
    `first load: ${files.size} files + config.json, ${(raw / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzip (goal ≤ 200 KB)`,
  );

  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-console-'));
  const rt = await startRuntime({ port: 0, quiet: true, dataDir, autoRun: false });
  try {
    const info = JSON.parse(
      await (await import('node:fs/promises')).readFile(join(dataDir, 'runtime.json'), 'utf8'),
    );
    const low = localDynamoClient(info.dynamoEndpoint);
    const repo = new OrderRepository(createDocumentClient(low), info.tableName);
    const started = Date.now();
    const base = Date.now() - 3 * 86_400_000;
    for (let i = 0; i < ORDERS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, ORDERS - i) }, (_, k) => {
          const n = i + k;
          const at = new Date(base + n * 20_000).toISOString();
          const status = STATUSES[n % STATUSES.length]!;
          const o: Order = {
            orderId: newId('ord'),
            tenant: ['arrow', 'ingram', 'saashop'][n % 3]!,
            channel: n % 3 === 2 ? 'saashop' : 'api',
            channelOrderId: `PO-${n}`,
            orderType: 'Purchase',
            currency: 'EUR',
            sellTo: {
              company: `Company ${n % 997}`,
              contact: { firstName: 'A', lastName: 'B', email: 'a@b.example' },
              address: { line1: 'x', city: 'y', country: 'DE' },
            },
            partner: { name: 'P', contact: { firstName: 'A', lastName: 'B', email: 'a@b.example' } },
            lines: [{ productCode: 'SB-ENT', quantity: 1, unit: 'seat' }],
            requestHash: 'h',
            status,
            history: [{ at, status }],
            redrives: 0,
            zuoraKeys: 0,
            createdAt: at,
            updatedAt: at,
          };
          return repo.create(o);
        }),
      );
    }
    console.log(`seeded ${ORDERS} orders in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    low.destroy();
    const token = await rt.token('ops');
    const cases: Array<[string, string]> = [
      ['newest 25', ''],
      ['status=NEEDS_REVIEW', 'status=NEEDS_REVIEW'],
      ['status=FULFILLED&channel=saashop', 'status=FULFILLED&channel=saashop'],
      ['tenant=ingram&status=ERROR', 'tenant=ingram&status=ERROR'],
      ['q=company 42', 'q=company%2042'],
    ];
    for (const [label, q] of cases) {
      const times: number[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 60; i++) {
        const t0 = performance.now();
        const res = await fetch(
          `${rt.url}/v1/ops/orders?limit=25${q ? `&${q}` : ''}${cursor ? `&cursor=${cursor}` : ''}`,
          {
            headers: { authorization: `Bearer ${token}` },
          },
        );
        const body = (await res.json()) as { cursor?: string; items: unknown[] };
        times.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
        cursor = i % 3 === 2 ? undefined : body.cursor; // first pages and follow-on pages
      }
      times.sort((a, b) => a - b);
      const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
      console.log(`GET /v1/ops/orders ${label.padEnd(34)} p50 ${p(0.5)} ms  p99 ${p(0.99)} ms`);
    }
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
