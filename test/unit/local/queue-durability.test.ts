import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueSpec } from '../../../infra/wiring-types.ts';
import { LocalQueue } from '../../../local/bus/queue.ts';
import { repoRoot } from '../../helpers/reference.ts';

const spec: QueueSpec & { name: string } = {
  name: 'durable-queue',
  consumer: 'test-fn',
  visibilityTimeoutSeconds: 60,
  maxReceiveCount: 3,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 2,
};

const dir = mkdtempSync(join(tmpdir(), 'switchboard-queue-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A child process that accepts `count` messages (a 60 s snapshot debounce, so only the journal can
 * hold them), prints each acknowledged id, and then waits to be killed.
 */
function sender(
  persistPath: string,
  count: number,
  via: 'send' | 'putEvents' = 'send',
): { child: ChildProcess; acked: Promise<string[]> } {
  const script = join(dir, `sender-${via}.mts`);
  const queueUrl = pathToFileURL(join(repoRoot, 'local/bus/queue.ts')).href;
  const busUrl = pathToFileURL(join(repoRoot, 'local/bus/event-bus.ts')).href;
  const rule = { name: 'all-orders', description: 'test', pattern: { source: ['test'] }, queue: spec.name };
  writeFileSync(
    script,
    `import { LocalQueue } from ${JSON.stringify(queueUrl)};
import { LocalEventBus } from ${JSON.stringify(busUrl)};
const q = new LocalQueue({ spec: ${JSON.stringify(spec)}, persistPath: ${JSON.stringify(persistPath)}, persistDebounceMs: 60_000 });
const bus = new LocalEventBus({ name: 'hub', rules: [${JSON.stringify(rule)}], targets: () => q });
for (let i = 0; i < ${count}; i++) {
  const id = ${JSON.stringify(via)} === 'send'
    ? q.send('message ' + i)
    : bus.putEvents([{ EventBusName: 'hub', Source: 'test', DetailType: 't', Detail: JSON.stringify({ i }) }]).Entries[0].EventId;
  process.stdout.write('ack ' + id + '\\n');
}
process.stdout.write('done\\n');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (c) => (out += c));
  const acked = new Promise<string[]>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('done\n')) resolve([...out.matchAll(/^ack (\S+)$/gm)].map((m) => m[1]!));
    });
    child.once('exit', (code) => reject(new Error(`sender exited ${code}:\n${out}`)));
  });
  return { child, acked };
}

describe('queue durability across SIGKILL', () => {
  it('every message acknowledged before the kill is there after a restart, none twice', async () => {
    const persistPath = join(dir, 'queues', 'durable-queue.json');
    const { child, acked } = sender(persistPath, 200);
    const ids = await acked;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL'); // right after the last ack, well inside the snapshot debounce
    await exited;
    expect(ids).toHaveLength(200);

    const seen: string[] = [];
    const q = new LocalQueue({
      spec,
      persistPath,
      consumer: async (event) => {
        seen.push(...event.Records.map((r) => r.messageId));
      },
    });
    expect(q.stats().visible).toBe(200);
    await q.pump();
    expect(seen.sort()).toEqual([...ids].sort());
    await q.stop();
    // Replayed into the snapshot and compacted: a second restart finds nothing left to deliver.
    expect(readFileSync(`${persistPath}.journal`, 'utf8')).toBe('');
    const again = new LocalQueue({ spec, persistPath });
    expect(again.stats()).toMatchObject({ visible: 0, delayed: 0, inFlight: 0 });
  }, 60_000);

  it("PutEvents: every entry acknowledged before the kill reaches its rule's queue after a restart", async () => {
    const persistPath = join(dir, 'bus', 'durable-queue.json');
    const { child, acked } = sender(persistPath, 100, 'putEvents');
    const ids = await acked;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(ids).toHaveLength(100);
    const q = new LocalQueue({ spec, persistPath });
    const seen: string[] = [];
    q.setConsumer(async (event) => {
      seen.push(...event.Records.map((r) => (JSON.parse(r.body) as { id: string }).id));
    });
    await q.pump();
    expect(seen.sort()).toEqual([...ids].sort());
    await q.stop();
  }, 60_000);

  it('a torn last journal line (killed mid-write, never acknowledged) is skipped', () => {
    const persistPath = join(dir, 'torn', 'durable-queue.json');
    const first = new LocalQueue({ spec, persistPath, persistDebounceMs: 60_000 });
    const id = first.send('kept');
    writeFileSync(
      `${persistPath}.journal`,
      `${readFileSync(`${persistPath}.journal`, 'utf8')}{"op":"send","mes`,
    );
    const second = new LocalQueue({ spec, persistPath });
    expect(second.stats().visible).toBe(1);
    expect(
      JSON.parse(readFileSync(persistPath, 'utf8')).messages.map((m: { messageId: string }) => m.messageId),
    ).toEqual([id]);
  });
});
