import { describe, expect, it } from 'vitest';
import { baseEnvSchema, parseEnv, tableEnvSchema } from '../../../shared/env.ts';

describe('environment parsing at cold start', () => {
  it('fails loudly, naming every problem', () => {
    expect(() => parseEnv(baseEnvSchema.extend(tableEnvSchema.shape), {})).toThrow(/STAGE: .*TABLE_NAME/s);
  });
  it('has no default stage: a missing STAGE must not silently mean local (which relaxes guards)', () => {
    expect(() => parseEnv(baseEnvSchema, {})).toThrow(/STAGE/);
    expect(parseEnv(baseEnvSchema, { STAGE: 'prod' }).STAGE).toBe('prod');
    expect(() => parseEnv(baseEnvSchema, { STAGE: 'production' })).toThrow(/STAGE/);
  });
});
