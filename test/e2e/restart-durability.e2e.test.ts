import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/reference.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

interface Started {
  child: ChildProcess;
  /** What `/health` answered before its first 200, and whether the start-up files existed then. */
  before: Array<{ status: number; body: string }>;
  filesAtFirst200: { runtimeJson: boolean; devClients: boolean };
}

/**
 * `npm start`'s entry in a child process, polled on `/health` from the moment it is spawned: the
 * first 200 must come only once the dev clients and `runtime.json` exist.
 */
async function start(dataDir: string, port: number): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), SWITCHBOARD_DATA_DIR: dataDir, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  child.once('exit', () => (exited = true));
  const before: Started['before'] = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`exited before ready:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`not ready within 60 s:\n${out}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      const body = await res.text();
      if (res.status === 200) {
        const filesAtFirst200 = {
          runtimeJson: existsSync(join(dataDir, 'runtime.json')),
          devClients: existsSync(join(dataDir, 'dev-clients.json')),
        };
        return { child, before, filesAtFirst200 };
      }
      before.push({ status: res.status, body });
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const kill9 = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('npm start: readiness and the clock across a SIGKILL', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-restart-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await kill9(c);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 starting until ready, and a restarted suite continues at the same simulated time', async () => {
    const port = await freePort();
    const first = await start(dataDir, port);
    children.push(first.child);
    expect(first.filesAtFirst200).toEqual({ runtimeJson: true, devClients: true });
    for (const answer of first.before) {
      expect(answer).toEqual({ status: 503, body: JSON.stringify({ status: 'starting' }) });
    }

    const base = `http://127.0.0.1:${port}`;
    const moved = await fetch(`${base}/_local/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSeconds: 7200 }),
    });
    expect(moved.status).toBe(200);
    const { now: movedNow } = (await moved.json()) as { now: string };
    await kill9(first.child); // no clean stop: nothing gets a chance to write on the way out

    const second = await start(dataDir, port);
    children.push(second.child);
    expect(second.filesAtFirst200).toEqual({ runtimeJson: true, devClients: true });
    const clock = (await (await fetch(`${base}/_local/clock`)).json()) as {
      now: string;
      offsetSeconds: number;
    };
    expect(clock.offsetSeconds).toBeGreaterThanOrEqual(7200);
    expect(Date.parse(clock.now)).toBeGreaterThanOrEqual(Date.parse(movedNow));
    await kill9(second.child);
  }, 180_000);
});
