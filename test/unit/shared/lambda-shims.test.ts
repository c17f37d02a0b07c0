import { describe, expect, it } from 'vitest';
import { defaultProvider } from '../../../shared/lambda-shims/credential-provider-node.ts';
import { gte } from '../../../shared/lambda-shims/semver.ts';

describe('Lambda shims', () => {
  it('semver.gte compares release versions as semver does', () => {
    expect(gte('22.11.0', '8.0.0')).toBe(true);
    expect(gte('v20.20.2', '8.0.0')).toBe(true);
    expect(gte('8.0.0', '8.0.0')).toBe(true);
    expect(gte('7.10.1', '8.0.0')).toBe(false);
    expect(gte('2.1061.0', '2.7.15')).toBe(true);
    expect(gte('2.7.9', '2.7.15')).toBe(false);
    expect(gte('1.0.0-beta.1', '1.0.0')).toBe(false);
    expect(gte('1.0.0', '1.0.0-beta.1')).toBe(true);
    expect(() => gte('not-a-version', '1.0.0')).toThrow(/Invalid Version/);
  });

  it('the credential provider reads the role credentials Lambda puts in the environment', async () => {
    const saved = { ...process.env };
    try {
      process.env.AWS_ACCESS_KEY_ID = 'ASIAEXAMPLE';
      process.env.AWS_SECRET_ACCESS_KEY = 'secret-example';
      process.env.AWS_SESSION_TOKEN = 'token-example';
      const credentials = await defaultProvider()();
      expect(credentials).toMatchObject({
        accessKeyId: 'ASIAEXAMPLE',
        secretAccessKey: 'secret-example',
        sessionToken: 'token-example',
      });
      delete process.env.AWS_ACCESS_KEY_ID;
      await expect(defaultProvider()()).rejects.toThrow();
    } finally {
      process.env = saved;
    }
  });
});
