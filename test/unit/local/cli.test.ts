import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every CLI behind an `npm run` script parses with `local/cli/kit.ts`: `--help` prints usage on stdout
 * and exits 0; an unknown flag is exactly one line on stderr naming it, exit 2. Scripts are read from
 * package.json, so a new script is covered unless it is listed below.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const scripts = JSON.parse(readFileSync(resolve(repoRoot, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;

/** Not CLIs of ours: tooling (lint:openapi is `openapi` piped into redocly). */
const NOT_COVERED = new Set([
  'test',
  'typecheck',
  'lint',
  'format',
  'check',
  'synth',
  'deploy',
  'lint:openapi',
]);
const clis = Object.entries(scripts).filter(([name]) => !NOT_COVERED.has(name) && !name.startsWith('test:'));

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const m = /^node ((?:--\S+ \S+ )*)(\S+)$/.exec(command.trim());
  if (!m) throw new Error(`script is not "node [--import x] <file>": ${command}`);
  const nodeArgs = m[1]!.trim().split(/\s+/).filter(Boolean);
  return new Promise((done, failed) => {
    const child = spawn(process.execPath, [...nodeArgs, m[2]!, ...args], {
      cwd: repoRoot,
      // No table and no running suite are needed for --help or a bad flag; keep AWS out of reach.
      env: { ...process.env, TABLE_NAME: '', AWS_REGION: 'us-east-1', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', failed);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('every npm run CLI', () => {
  it('covers the CLIs the task names', () => {
    expect(clis.map(([n]) => n).sort()).toEqual(
      expect.arrayContaining([
        'appdirect',
        'bench',
        'clients',
        'console:build',
        'operators',
        'start',
        'usage',
      ]),
    );
  });

  for (const [name, command] of clis) {
    it(`${name} --help: usage on stdout, exit 0`, async () => {
      const r = await run(command, ['--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/usage/i);
      expect(r.stdout).toContain(name === 'start' ? 'npm start' : `npm run ${name}`);
    }, 90_000);

    it(`${name} --no-such-flag: one line on stderr naming the flag, exit 2`, async () => {
      const r = await run(command, ['--no-such-flag']);
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('--no-such-flag');
      expect(r.stdout).toBe('');
    }, 90_000);
  }
});
