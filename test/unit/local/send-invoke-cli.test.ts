import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wiring } from '../../../infra/wiring.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';

/** `npm run send` / `npm run invoke` as a user runs them: a child process, its exit code and output. */
const data = mkdtempSync(join(tmpdir(), 'sb-cli-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));

function run(cli: 'send' | 'invoke', ...args: string[]) {
  return runIn(data, cli, ...args);
}

function runIn(dir: string, cli: 'send' | 'invoke', ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `local/cli/${cli}.ts`, ...args], {
    encoding: 'utf8',
    // no suite runs on this empty data folder
    env: { ...process.env, SWITCHBOARD_DATA_DIR: dir, DEBUG: '' },
    timeout: 60_000,
  });
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines };
}

/** A failure is one line on stderr, no stack trace. */
function oneLine(r: ReturnType<typeof run>) {
  expect(r.lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return r.lines[0];
}

describe('npm run send', () => {
  it('prints its usage on --help and exits 0', () => {
    const r = run('send', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: npm run send --');
    expect(r.stdout).toContain('--method');
  });

  it('rejects an unknown flag in one line, exit 2', () => {
    const r = run('send', 'events/api/orders/valid.json', '--frobnicate');
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/frobnicate.*see --help/);
  });

  it('rejects a missing file in one line, exit 2', () => {
    const r = run('send', 'events/api/orders/no-such-case.json');
    expect(r.code).toBe(2);
    expect(oneLine(r)).toContain('no file events/api/orders/no-such-case.json');
  });

  it('rejects a sample in an unknown folder in one line, exit 2, naming the folders it knows', () => {
    const file = join(data, 'nowhere', 'case.json');
    mkdirSync(join(data, 'nowhere'), { recursive: true });
    writeFileSync(file, '{}');
    const r = run('send', file);
    expect(r.code).toBe(2);
    const line = oneLine(r);
    expect(line).toContain('no POST route for folder nowhere');
    expect(line).toContain('orders');
  });

  it('rejects an unknown --method in one line, exit 2', () => {
    const r = run('send', 'x.json', '--method', 'TELEPORT');
    expect(r.code).toBe(2);
    expect(oneLine(r)).toContain('--method TELEPORT');
  });

  it('accepts --method GET without a body and fails in one line when no suite runs', () => {
    const r = run('send', '--method', 'GET', '--path', '/v1/orders/01ABC');
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain('no local suite is running');
  });
});

describe('npm run send against a running suite', () => {
  it("posts a sample with a token from the typed client's tokenSource and prints the answer", async () => {
    const rt = await startTestRuntime();
    try {
      // spawnSync would block the suite this process serves: run the child asynchronously.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'local/cli/send.ts', 'events/api/orders/valid.json'],
        {
          env: { ...process.env, SWITCHBOARD_DATA_DIR: rt.dataDir, DEBUG: '' },
        },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(out).toMatch(/^POST \/v1\/orders as distributor \(\S+\) → 201/);
      expect(code).toBe(0);
    } finally {
      await rt.cleanup();
    }
  }, 120_000);
});

describe('npm run invoke', () => {
  it('prints its usage on --help with the function names and exits 0', () => {
    const r = run('invoke', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: npm run invoke --');
    expect(r.stdout).toMatch(/Functions: .*\w/);
  });

  it('rejects an unknown flag, an unknown function and a missing file in one line, exit 2', () => {
    const flag = run('invoke', '--nope');
    expect(flag.code).toBe(2);
    expect(oneLine(flag)).toContain('nope');

    const fn = run('invoke', 'noSuchFunction', 'events/api/orders/x.json');
    expect(fn.code).toBe(2);
    expect(oneLine(fn)).toContain('no function noSuchFunction');

    const missing = run('invoke', Object.keys(wiring.functions)[0]!, 'events/no-such-event.json');
    expect(missing.code).toBe(2);
    expect(oneLine(missing)).toContain('no file events/no-such-event.json');
  });
});
