import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestRuntime } from '../helpers/runtime.ts';

type TestRuntime = Awaited<ReturnType<typeof startTestRuntime>>;

describe('POST /_local/clock while consumers are stuck', () => {
  let rt: TestRuntime;
  let release: () => void = () => {};
  beforeAll(async () => {
    rt = await startTestRuntime({ autoRun: false });
  });
  afterAll(async () => {
    release();
    await rt.cleanup();
  });

  it('moves the clock and answers although a consumer batch has not finished (settled: false)', async () => {
    // A consumer that hangs, as one retrying against a sandbox with a held "timeout" fault does.
    const [name, queue] = [...rt.queues][0]!;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let invoked = 0;
    queue.setConsumer(async () => {
      invoked++;
      await held;
    });
    queue.send(JSON.stringify({ detail: {} }));
    const before = (await api(rt, 'GET', '/_local/clock')).body.offsetSeconds as number;

    const res = await fetch(`${rt.url}/_local/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSeconds: 60 }),
      signal: AbortSignal.timeout(20_000), // today's code waited for the batch: this aborted
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { offsetSeconds: number; settled: boolean };
    expect(body.offsetSeconds).toBe(before + 60);
    expect(body.settled).toBe(false);
    expect(invoked, `the batch of ${name} started`).toBe(1);
    expect(rt.queues.get(name)!.stats().batchesInFlight).toBe(1);

    release();
    await rt.drain();
    // Without stuck work the answer waits for what became due (settled: true).
    const calm = await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: 1 } });
    expect(calm.body.settled).toBe(true);
  }, 60_000);
});
