import { beforeAll, describe, expect, it, vi } from 'vitest';
import { routeKey, type Wiring } from '../../infra/wiring-types.ts';
import { fixtureWiring } from './fixtures/wiring.ts';
import { realWiring, type SynthesizedWiring, synthesizedWiring } from './synth.ts';

// Synthesizing the app is CPU-bound (seconds each, more on a busy machine); no timing is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/** The manifest's own view, in the same shape as what is read back from the template. */
function expected(wiring: Wiring): SynthesizedWiring {
  return {
    routes: wiring.routes.map((r) => ({ routeKey: routeKey(r), functionName: r.function })),
    rules: wiring.rules.map((r) => ({
      name: r.name,
      pattern: r.pattern,
      consumer: wiring.queues[r.queue]!.consumer,
    })),
    schedules: wiring.schedules.map((s) => ({
      name: s.name,
      expression: s.expression,
      consumer: s.function,
    })),
  };
}

const byKey = <T>(items: T[], key: (t: T) => string): T[] =>
  [...items].sort((a, b) => key(a).localeCompare(key(b)));

function expectSame(actual: SynthesizedWiring, wanted: SynthesizedWiring): void {
  // Sorted full lists: equality means one deployed route per manifest route and nothing extra.
  expect(byKey(actual.routes, (r) => r.routeKey)).toEqual(byKey(wanted.routes, (r) => r.routeKey));
  expect(byKey(actual.rules, (r) => r.name)).toEqual(byKey(wanted.rules, (r) => r.name));
  expect(byKey(actual.schedules, (s) => s.name)).toEqual(byKey(wanted.schedules, (s) => s.name));
}

describe.each([
  ['the real manifest', realWiring],
  ['the fixture manifest (every kind of declaration)', async () => fixtureWiring],
])('CDK app versus %s', (_label, load) => {
  let wiring: Wiring;
  let synthesized: SynthesizedWiring;
  beforeAll(async () => {
    wiring = await load();
    synthesized = synthesizedWiring('dev', wiring);
  });

  it('has exactly one API route per manifest route, integrated with that route’s function', () => {
    expectSame(
      { ...synthesized, rules: [], schedules: [] },
      { ...expected(wiring), rules: [], schedules: [] },
    );
  });

  it('has one rule per manifest rule, same pattern, delivering through a queue to the right consumer', () => {
    expect(byKey(synthesized.rules, (r) => r.name)).toEqual(byKey(expected(wiring).rules, (r) => r.name));
  });

  it('has one schedule per manifest schedule, same expression, invoking the right function', () => {
    expect(byKey(synthesized.schedules, (s) => s.name)).toEqual(
      byKey(expected(wiring).schedules, (s) => s.name),
    );
  });
});

describe('the comparison itself', () => {
  it('notices a route, rule or schedule that differs from the manifest', () => {
    const synthesized = synthesizedWiring('dev', fixtureWiring);
    const drifted = structuredClone(expected(fixtureWiring));
    drifted.routes[0]!.functionName = 'someone-else';
    expect(() => expectSame(synthesized, drifted)).toThrow();
    const missingRule = { ...expected(fixtureWiring), rules: expected(fixtureWiring).rules.slice(1) };
    expect(() => expectSame(synthesized, missingRule)).toThrow();
    const otherCron = structuredClone(expected(fixtureWiring));
    otherCron.schedules[0]!.expression = 'rate(2 minutes)';
    expect(() => expectSame(synthesized, otherCron)).toThrow();
  });
});
