import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/reference.ts';

/**
 * `npm run dev` on a temporary copy of the repo (node_modules symlinked), so editing a handler
 * never touches the tracked files: the next request after the edit is answered by the new code.
 */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const COPIED = [
  'console',
  'events',
  'functions',
  'infra',
  'local',
  'shared',
  'package.json',
  'tsconfig.json',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('npm run dev', () => {
  let copy: string;
  let child: ChildProcess | undefined;
  let out = '';

  beforeAll(async () => {
    copy = await mkdtemp(join(tmpdir(), 'switchboard-dev-'));
    for (const entry of COPIED) await cp(join(repoRoot, entry), join(copy, entry), { recursive: true });
    await symlink(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
    await rm(copy, { recursive: true, force: true });
  });

  it('prints its usage on --help and one line with exit 2 on a bad flag', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'local/dev.ts', ...args], {
        cwd: copy,
        encoding: 'utf8',
      });
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run dev');
    expect(help.stdout).toContain('--inspect');
    const bad = run('--nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^npm run dev: .*--nope.*\(see --help\)/);
    const badPort = run('--port', 'x');
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('--port');
  });

  it('answers the next request with a changed handler without a restart, keeping data and clock', async () => {
    const port = await freePort();
    const dataDir = join(copy, '.switchboard');
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/dev.ts', '--port', String(port), '--data', dataDir],
      {
        cwd: copy,
        env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (c) => (out += c));
    child.stderr!.on('data', (c) => (out += c));
    const started = Date.now();
    while (!out.includes('Watching functions/')) {
      if (child.exitCode !== null) throw new Error(`npm run dev exited ${child.exitCode}:\n${out}`);
      if (Date.now() - started > 90_000) throw new Error(`npm run dev did not start:\n${out}`);
      await sleep(200);
    }
    const base = `http://127.0.0.1:${port}`;
    const health = async () => (await (await fetch(`${base}/health`)).json()) as { status: string };
    expect((await health()).status).toBe('ok');
    const moved = await fetch(`${base}/_local/clock`, {
      method: 'POST',
      body: JSON.stringify({ advanceSeconds: 3600 }),
    });
    expect(moved.status).toBe(200);
    const pid = child.pid;

    const file = join(copy, 'functions/meta/handler.ts');
    const source = await readFile(file, 'utf8');
    expect(source).toContain("status: 'ok'");
    // The new code also reads the clock: a reloaded module sees the offset moved before the reload.
    const edit = source.replace(
      "status: 'ok'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the edited handler's source text
      'status: `reloaded, clock moved: ${nowMs() - Date.now() >= 3_500_000}`',
    );
    await writeFile(file, `import { nowMs } from '../../shared/clock.ts';\n${edit}`);

    let status = '';
    const edited = Date.now();
    while (status !== 'reloaded, clock moved: true' && Date.now() - edited < 60_000) {
      status = (await health()).status;
      if (status !== 'reloaded, clock moved: true') await sleep(250);
    }
    expect(status).toBe('reloaded, clock moved: true');
    expect(out).toMatch(/reloaded: meta \(1 file changed\)/);
    expect(child.pid).toBe(pid);
    expect(child.exitCode).toBeNull();
  }, 180_000);
});
