import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox, type SandboxContext } from '../../../local/sandboxes/kit.ts';
import { systemClock } from '../../../shared/clock.ts';

/**
 * A partner sandbox keeps what it acknowledged across a kill: each record is appended to a journal
 * before the answer, so a SIGKILL within the 20 ms snapshot debounce loses no receipt the hub saw.
 */
const dirs: string[] = [];
const opened: Sandbox[] = [];
afterEach(() => {
  // Their pending 20 ms snapshots are written now, while the folder still exists.
  for (const s of opened.splice(0)) s.flush();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dataDir: string): Sandbox {
  const ctx: SandboxContext = {
    runtimeUrl: 'http://127.0.0.1:1',
    baseUrl: 'http://127.0.0.1:1/_sandbox/receiver',
    clock: systemClock,
    dataDir,
    random: Math.random,
  };
  const sandbox = new Sandbox('receiver', ctx, () => ({}));
  opened.push(sandbox);
  return sandbox;
}

describe('sandbox record durability', () => {
  it('records acknowledged just before a kill are there after a restart, once each, in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    dirs.push(dir);
    const first = open(dir);
    first.record('delivery', { n: 1 });
    first.flush(); // an earlier snapshot
    first.record('delivery', { n: 2 });
    first.record('delivery', { n: 3 });
    // Killed now: the snapshot timer never fires. A second process opens the same folder.
    const restarted = open(dir);
    expect(restarted.records.map((r) => r.n)).toEqual([1, 2, 3]);
    expect(restarted.records.map((r) => r.seq)).toEqual([1, 2, 3]);
    // A torn last line (a write killed midway, never acknowledged) is ignored.
    appendFileSync(join(dir, 'receiver.json.journal'), '{"seq":4,"ki');
    expect(open(dir).records).toHaveLength(3);
  });

  it('a reset is written at once: old records do not come back from the journal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    dirs.push(dir);
    const first = open(dir);
    first.record('delivery', { n: 1 });
    first.reset();
    first.record('delivery', { n: 2 });
    expect(open(dir).records.map((r) => r.n)).toEqual([2]);
  });

  it('state a partner call changed is written before its answer (an idempotency key survives a kill)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    dirs.push(dir);
    const first = open(dir);
    first.route('POST', '/orders', () => {
      (first.state as Record<string, unknown>).seen = 'key-1';
      first.changed();
      return { status: 201, body: {} };
    });
    const answer = await first.handle({
      method: 'POST',
      path: '/orders',
      headers: {},
      text: () => '',
    } as never);
    expect(answer?.status).toBe(201);
    // Killed right after answering: the 20 ms snapshot timer never fires.
    expect((open(dir).state as Record<string, unknown>).seen).toBe('key-1');
  });
});

describe('a partner call is durable as a whole', () => {
  it('a restart in the middle of a call finds neither its record nor its state; after the answer, both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    dirs.push(dir);
    const first = open(dir);
    let resume: () => void = () => {};
    const paused = new Promise<void>((r) => {
      resume = r;
    });
    first.route('POST', '/orders', async () => {
      (first.state as Record<string, unknown>).idempotencyKey = 'ord-1';
      first.changed();
      first.record('order.created', { idempotencyKey: 'ord-1' });
      await paused; // still inside the call: no answer yet
      return { status: 200, body: {} };
    });
    const call = first.handle({ method: 'POST', path: '/orders', headers: {}, text: () => '' } as never);
    await new Promise((r) => setImmediate(r));
    // Killed now (the 20 ms snapshot timer has not fired): the hub got no answer and will retry.
    const midCall = open(dir);
    expect(midCall.records.filter((r) => r.kind === 'order.created')).toHaveLength(0);
    expect((midCall.state as Record<string, unknown>).idempotencyKey).toBeUndefined();
    resume();
    expect((await call)?.status).toBe(200);
    const after = open(dir);
    expect(after.records.map((r) => r.kind)).toEqual(['order.created']);
    expect((after.state as Record<string, unknown>).idempotencyKey).toBe('ord-1');
  });

  it("a call that changes no state journals its records before answering; a concurrent call's snapshot does not repeat them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    dirs.push(dir);
    const first = open(dir);
    first.route('POST', '/receipt', (req) => {
      first.record('receipt', { id: req.headers['x-id'] });
      return { status: 200 };
    });
    first.route('POST', '/state', () => {
      (first.state as Record<string, unknown>).touched = true;
      first.changed();
      return { status: 204 };
    });
    const req = (path: string, id: string) =>
      first.handle({ method: 'POST', path, headers: { 'x-id': id }, text: () => '' } as never);
    await Promise.all([req('/receipt', 'a'), req('/state', ''), req('/receipt', 'b')]);
    const restarted = open(dir);
    expect(restarted.records.map((r) => r.id)).toEqual(['a', 'b']);
    expect((restarted.state as Record<string, unknown>).touched).toBe(true);
  });
});
