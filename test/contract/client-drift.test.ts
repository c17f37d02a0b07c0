import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSchema, SCHEMA_FILE } from '../../clients/typescript/generate.ts';

/**
 * The checked-in typed client (clients/typescript/src/schema.d.ts) is what `npm run generate` makes
 * from today's OpenAPI document: a route or schema changed without regenerating fails here (CI).
 */
describe('typed client drift (npm run generate -- --check)', () => {
  it('the checked-in schema.d.ts equals a fresh generation', async () => {
    const fresh = await generateSchema();
    expect(fresh).toContain('"/v1/orders"');
    expect(readFileSync(SCHEMA_FILE, 'utf8') === fresh, 'stale: run npm run generate and commit').toBe(true);
  });

  it('generation is deterministic', async () => {
    expect(await generateSchema()).toBe(await generateSchema());
  });

  it('--check exits 0 when current; --help prints usage; a bad flag is one line, exit 2', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'clients/typescript/generate.ts', ...args], {
        encoding: 'utf8',
      });
    expect(run('--check').status).toBe(0);
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--check');
    const bad = run('--bogus');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
