import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime } from '../helpers/runtime.ts';
import { synthesizedWiring } from './synth.ts';

/**
 * The manifest is the single source of truth: what the CDK stack deploys (read back from the
 * synthesized template) and what the local runtime serves (read from its live tables) must agree
 * route for route, rule for rule and schedule for schedule.
 */
describe('CDK stack and local runtime agree', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  beforeAll(async () => {
    rt = await startTestRuntime({ autoRun: false });
  });
  afterAll(async () => rt.cleanup());

  it('route for route, rule for rule, schedule for schedule', async () => {
    const deployed = await synthesizedWiring('dev');
    const local = rt.tables();
    const byKey = <T extends object>(items: T[], key: (t: T) => string) =>
      [...items].sort((a, b) => key(a).localeCompare(key(b)));
    expect(byKey(local.routes, (r) => r.routeKey)).toEqual(byKey(deployed.routes, (r) => r.routeKey));
    expect(byKey(local.rules, (r) => r.name)).toEqual(byKey(deployed.rules, (r) => r.name));
    expect(byKey(local.schedules, (s) => s.name)).toEqual(byKey(deployed.schedules, (s) => s.name));
    expect(local.routes.length).toBeGreaterThan(3);
  }, 120_000);
});
