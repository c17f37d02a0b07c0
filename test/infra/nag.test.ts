import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it, vi } from 'vitest';
import type { DeployStage } from '../../infra/config.ts';
import type { Wiring } from '../../infra/wiring-types.ts';
import { fixtureWiring } from './fixtures/wiring.ts';
import { realWiring, testApp } from './synth.ts';

// Synthesizing the app is CPU-bound (seconds each, more on a busy machine); no timing is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

interface Violation {
  rule: string;
  severity: string;
  paths: string[];
}

/**
 * Synthesizes with the cdk-nag plugins registered (as `infra/app.ts` does for `cdk synth`) and
 * returns the unacknowledged findings from the policy validation report. A failing validation makes
 * `synth()` throw; the report is written either way.
 */
function nagFindings(app: App): Violation[] {
  try {
    app.synth();
  } catch (error) {
    if ((error as Error).name !== 'ValidationFailed') throw error;
  }
  const reportPath = join(app.outdir, 'validation-report.json');
  const text = readFileSync(reportPath, 'utf8');
  rmSync(app.outdir, { recursive: true, force: true });
  const report = JSON.parse(text) as {
    pluginReports: Array<{
      violations: Array<{
        ruleName: string;
        severity: string;
        violatingConstructs: Array<{ constructPath: string }>;
      }>;
    }>;
  };
  return report.pluginReports.flatMap((p) =>
    p.violations.map((v) => ({
      rule: v.ruleName,
      severity: v.severity,
      paths: v.violatingConstructs.map((c) => c.constructPath),
    })),
  );
}

const errorsOf = (violations: Violation[]) => violations.filter((v) => v.severity === 'error');

describe('cdk-nag (AwsSolutions + Serverless)', () => {
  const cases: Array<[DeployStage, string, () => Promise<Wiring>]> = [
    ['dev', 'real manifest', realWiring],
    ['prod', 'real manifest', realWiring],
    ['prod', 'fixture manifest', async () => fixtureWiring],
  ];
  it.each(cases)('%s stage with the %s has zero unacknowledged errors', async (stage, _label, wiring) => {
    const { app } = testApp(stage, {
      wiring: await wiring(),
      nag: true,
      context: { alarmEmail: 'ops@example.com' },
    });
    expect(errorsOf(nagFindings(app))).toEqual([]);
  });

  it('would report a violation (the check is live): an unencrypted queue without DLQ or SSL', () => {
    const { app, stateless } = testApp('dev', { wiring: fixtureWiring, nag: true });
    new Queue(stateless, 'CarelessQueue');
    const rules = errorsOf(nagFindings(app))
      .filter((v) => v.paths.some((p) => p.includes('CarelessQueue')))
      .map((v) => v.rule);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('every acknowledgment carries a one-line reason', () => {
    const { app } = testApp('prod', { wiring: fixtureWiring, nag: true });
    const acks = acknowledgments(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.trim().length, ack.id).toBeGreaterThan(10);
      expect(ack.reason, ack.id).not.toContain('\n');
    }
  });
});

/** Acknowledgments recorded anywhere in the construct tree. */
function acknowledgments(app: App): Array<{ id: string; reason: string }> {
  const found: Array<{ id: string; reason: string }> = [];
  for (const construct of app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Recorded as `{ "<prefix>::<rule id>": "<reason>" }`.
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        found.push({ id, reason: String(reason) });
      }
    }
  }
  return found;
}
