import { describe, expect, it } from 'vitest';
import type { FunctionSpec } from '../../../infra/wiring-types.ts';
import { LambdaTimeoutError, LocalLambdas } from '../../../local/lambda.ts';
import { repoRoot } from '../../helpers/reference.ts';

const fn = (entry: string, environment?: Record<string, string>, timeoutSeconds = 5): FunctionSpec => ({
  description: 'test',
  entry,
  memoryMb: 128,
  timeoutSeconds,
  uses: [],
  ...(environment ? { environment } : {}),
});

describe('local Lambda invocation', () => {
  const lambdas = new LocalLambdas(
    {
      a: fn('test/helpers/fixtures/env-echo.ts', { ECHO_ONLY: 'a' }),
      sleeper: fn('test/helpers/fixtures/sleeper.ts', {}, 1),
    },
    repoRoot,
    { a: { ECHO_ONLY: 'a' } },
  );

  it('gives each function its own variables, at cold start and per call, and none outside', async () => {
    process.env.SHARED_SETTING = 'shared';
    const [x, y] = (await Promise.all([lambdas.invoke('a', { wait: 20 }), lambdas.invoke('a', {})])) as Array<
      Record<string, unknown>
    >;
    expect(x).toEqual({ atColdStart: 'a', now: 'a', shared: 'shared', hasKey: true });
    expect(y).toEqual(x);
    expect(process.env.ECHO_ONLY).toBeUndefined();
    expect('ECHO_ONLY' in process.env).toBe(false);
  });

  it('keeps process.env writable and deletable through the proxy (a second runtime in one process)', () => {
    process.env.SWITCHBOARD_PROBE = '1';
    expect(process.env.SWITCHBOARD_PROBE).toBe('1');
    delete process.env.SWITCHBOARD_PROBE;
    expect(process.env.SWITCHBOARD_PROBE).toBeUndefined();
  });

  it('fails an invocation that outlives its timeout with Lambda’s error', async () => {
    await expect(lambdas.invoke('sleeper', {})).rejects.toBeInstanceOf(LambdaTimeoutError);
    expect(lambdas.stats.timeouts).toBe(1);
  });
});
