import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { startRuntime } from '../../local/runtime.ts';
import { generateSecret, signPayload } from '../../shared/webhooks/signing.ts';

/**
 * Webhook section of `npm run bench`: signatures per second of our signer beside the
 * `standardwebhooks` library's signer (same payload, same run), then deliveries per second from
 * fan-out to verified receipt through the local runtime for 1, 10 and 100 endpoints.
 */
function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 2_000; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  return n / ((performance.now() - start) / 1000);
}

async function signatures(): Promise<void> {
  const secret = generateSecret();
  const payload = JSON.stringify({
    type: 'order.accepted',
    timestamp: new Date().toISOString(),
    data: { orderId: 'ord_01J0000000000000000000000', tenant: 'arrow', lines: [{ sku: 'X-1', quantity: 5 }] },
  });
  const ts = Math.floor(Date.now() / 1000);
  const lib = new Webhook(secret);
  const date = new Date(ts * 1000);
  if (lib.sign('msg_1', date, payload) !== signPayload(secret, 'msg_1', ts, payload))
    throw new Error('signers disagree');
  const ours = rate(() => signPayload(secret, 'msg_1', ts, payload), 1_500);
  const theirs = rate(() => lib.sign('msg_1', date, payload), 1_500);
  console.log(
    `signatures/s (payload ${payload.length} B): ours ${ours.toFixed(0)}, standardwebhooks ${theirs.toFixed(0)}, ratio ${(ours / theirs).toFixed(2)}×`,
  );
}

async function deliveries(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    const json = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(`${rt.url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    for (const [endpoints, events] of [
      [1, 60],
      [10, 15],
      [100, 3],
    ] as const) {
      const token = await rt.token('platform');
      const prefix = `custom.bench${endpoints}`;
      // Resetting the sandbox also forgets receiver configs: do it before configuring them.
      await json('DELETE', '/_sandbox/receiver/_records');
      for (let i = 0; i < endpoints; i++) {
        const name = `bench-${endpoints}-${i}`;
        const ep = await json(
          'POST',
          '/v1/webhooks/endpoints',
          {
            url: `${rt.url}/_sandbox/receiver/${name}`,
            eventTypes: [`${prefix}.*`],
            rateLimitPerSecond: 100,
          },
          token,
        );
        await json('PUT', `/_sandbox/receiver/${name}/_config`, { secret: ep.secret });
      }
      const expected = endpoints * events;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: events }, (_, i) =>
          json('POST', '/v1/webhooks/events', { type: `${prefix}.tick`, data: { i } }, token),
        ),
      );
      let got: Array<{ kind: string; verified: boolean }> = [];
      for (let round = 0; round < 20; round++) {
        await rt.drain(120_000);
        got = ((await json('GET', '/_sandbox/receiver/_records')) as typeof got).filter(
          (r) => r.kind === 'delivery',
        );
        if (got.length >= expected) break;
        await rt.advanceClock(2); // throttled or retried messages wait on the hub clock
      }
      const seconds = (performance.now() - start) / 1000;
      const verified = got.filter((r) => r.verified).length;
      console.log(
        `fan-out → receipt, ${String(endpoints).padStart(3)} endpoint(s) × ${events} events: ${got.length}/${expected} received (${verified} verified) in ${seconds.toFixed(2)} s = ${(got.length / seconds).toFixed(1)} deliveries/s`,
      );
    }
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export default async function (): Promise<void> {
  await signatures();
  await deliveries();
}
