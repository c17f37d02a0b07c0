import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { metricsRecorder } from '../../../../functions/zuora-event/metrics.ts';

describe('zuora-event metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('emits EMF counts per type and outcome, and the latency, with no account in the dimensions', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false'); // the suite disables EMF output by default
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const record = metricsRecorder(new Metrics({ namespace: 'Test', serviceName: 'zuora-event' }));
    record({
      typeEvent: 'ZLINKUPDATED',
      statusCode: 400,
      outcomes: ['UPGRADED', 'UNPROCESSABLE_ENTITY', 'UPGRADED'],
      accounts: ['BA1'],
      subscriptions: ['S1'],
      latencyMs: 12,
      replayed: false,
    });
    vi.restoreAllMocks();
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const counts = emf.filter((e) => 'ZuoraEventItems' in e);
    expect(counts.map((e) => [e.typeEvent, e.outcome, e.ZuoraEventItems])).toEqual([
      ['ZLINKUPDATED', 'UPGRADED', 2],
      ['ZLINKUPDATED', 'UNPROCESSABLE_ENTITY', 1],
    ]);
    expect(emf.find((e) => 'ZuoraEventLatency' in e)).toMatchObject({ ZuoraEventLatency: 12, status: '400' });
    expect(lines.join('')).not.toContain('BA1');
  });
});
