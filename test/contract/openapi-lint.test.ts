import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../functions/meta/openapi-document.ts';

/**
 * The document GET /openapi.json serves passes Redocly's linter (recommended ruleset, redocly.yaml)
 * with no error and no warning beyond the ones justified in .redocly.lint-ignore.yaml — the same
 * command `npm run check` runs in CI.
 */
describe('OpenAPI lint (npm run lint:openapi)', () => {
  it('has zero errors and zero unjustified warnings', () => {
    const built = spawnSync(
      'npm',
      ['run', '--silent', 'openapi', '--', '--out', '.switchboard/openapi.json'],
      {
        encoding: 'utf8',
      },
    );
    expect(built.status, built.stderr).toBe(0);
    // The file linted is the document the meta function serves.
    expect(JSON.parse(readFileSync('.switchboard/openapi.json', 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(openApiDocument('0.0.0'))),
    );
    const lint = spawnSync(
      'npx',
      ['redocly', 'lint', '--config', 'redocly.yaml', '.switchboard/openapi.json', '--format=json'],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number; ignored: number };
      problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }>;
    };
    const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    expect(problems).toEqual([]);
    expect(report.totals.errors).toBe(0);
    expect(report.totals.warnings).toBe(0);
    expect(lint.status).toBe(0);
  });

  it('makes the same document twice (deterministic generation)', () => {
    expect(JSON.stringify(openApiDocument('1.2.3'))).toBe(JSON.stringify(openApiDocument('1.2.3')));
  });
});
