import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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

/** Runs `npm start`'s entry as a newcomer would, in a child process; resolves once it prints its URL. */
function start(dataDir: string, port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), SWITCHBOARD_DATA_DIR: dataDir, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      if (out.includes('Switchboard is running at')) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
}

const stopWithCtrlC = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });

describe('npm start as a process', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-start-'));
  });
  afterAll(async () => rm(dataDir, { recursive: true, force: true }));

  it('prints the URL and dev credentials, stops cleanly on Ctrl-C, and keeps its data across a restart', async () => {
    const port = await freePort();
    const first = await start(dataDir, port);
    expect(first.output()).toContain(`http://127.0.0.1:${port}`);
    expect(first.output()).toMatch(/client_id=\S+\s+client_secret=\S+/);
    const clients = JSON.parse(await readFile(join(dataDir, 'dev-clients.json'), 'utf8')) as Array<{
      kind: string;
      clientId: string;
      clientSecret: string;
    }>;
    const platform = clients.find((c) => c.kind === 'platform')!;
    const tokenOf = async () =>
      fetch(`http://127.0.0.1:${port}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: platform.clientId,
          client_secret: platform.clientSecret,
        }),
      });
    expect((await tokenOf()).status).toBe(200);

    expect(await stopWithCtrlC(first.child)).toBe(0);
    expect(first.output()).toContain('stopped cleanly');

    // Same data folder: the same client (stored in the persisted DynamoDB) still authenticates.
    const second = await start(dataDir, port);
    try {
      expect((await tokenOf()).status).toBe(200);
      const again = JSON.parse(await readFile(join(dataDir, 'dev-clients.json'), 'utf8')) as typeof clients;
      expect(again.find((c) => c.kind === 'platform')!.clientSecret).toBe(platform.clientSecret);
    } finally {
      expect(await stopWithCtrlC(second.child)).toBe(0);
    }
  }, 120_000);
});
