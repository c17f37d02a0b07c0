import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_TAG } from '../../infra/constructs/service-function.ts';
import { envName } from '../../infra/wiring-types.ts';
import { realWiring, refOf, testApp } from './synth.ts';

// Synthesizing the app is CPU-bound (seconds); no timing is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe('signing-key rotation and the webhook secrets KMS key (synthesized templates)', () => {
  let stateful: Record<string, Resource>;
  let stateless: Record<string, Resource>;
  beforeAll(async () => {
    const app = testApp('dev', { wiring: await realWiring(), context: { alarmEmail: 'ops@example.com' } });
    stateful = Template.fromStack(app.stateful).toJSON().Resources;
    stateless = Template.fromStack(app.stateless).toJSON().Resources;
  });
  const ofType = (r: Record<string, Resource>, type: string) =>
    Object.entries(r).filter(([, x]) => x.Type === type);
  const statementsOfRole = (roleId: string): Statement[] =>
    ofType(stateless, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: unknown) => refOf(r) === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  const manifestFunction = (name: string) =>
    ofType(stateless, 'AWS::Lambda::Function').find(([, f]) =>
      (f.Properties.Tags ?? []).some(
        (t: { Key: string; Value: string }) => t.Key === FUNCTION_TAG && t.Value === name,
      ),
    )!;

  it('rotates auth-signing-key on a schedule through the signing-key-rotator (no custom resource)', () => {
    expect(ofType(stateless, 'Custom::SigningKey')).toEqual([]);
    const [[, schedule]] = ofType(stateless, 'AWS::SecretsManager::RotationSchedule') as [[string, Resource]];
    expect(JSON.stringify(schedule.Properties.SecretId)).toMatch(/Secretauthsigningkey/);
    expect(JSON.stringify(schedule.Properties.RotationRules)).toMatch(/30 days|"AutomaticallyAfterDays":30/);
    expect(schedule.Properties.RotateImmediatelyOnUpdate).toBe(true);
    const rotatorId = refOf(schedule.Properties.RotationLambdaARN)!;
    const rotator = stateless[rotatorId]!;
    expect(rotator.Type).toBe('AWS::Lambda::Function');
    expect(rotator.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe('signing-key-rotator');
    // Secrets Manager may invoke it; it may stage versions of that secret (and nothing else).
    const invoke = ofType(stateless, 'AWS::Lambda::Permission').find(
      ([, p]) => refOf(p.Properties.FunctionName) === rotatorId,
    );
    expect(invoke?.[1].Properties.Principal).toBe('secretsmanager.amazonaws.com');
    const actions = statementsOfRole(refOf(rotator.Properties.Role)!).flatMap((s) => list(s.Action));
    expect(actions).toEqual(
      expect.arrayContaining([
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:DescribeSecret',
      ]),
    );
  });

  it('no function carries a fixed public key: verifiers get AUTH_JWKS_URL, the token function the secret', () => {
    expect(JSON.stringify(stateless)).not.toContain('AUTH_PUBLIC_JWK');
    const [, dispatch] = manifestFunction('webhook-dispatch');
    expect(JSON.stringify(dispatch.Properties.Environment.Variables.AUTH_JWKS_URL)).toContain(
      '/.well-known/jwks.json',
    );
  });

  it('a customer-managed KMS key with rotation seals webhook secrets; dispatch may only generate data keys, the deliverer only decrypt', () => {
    const keys = ofType(stateful, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    expect(keys[0]![1].Properties.EnableKeyRotation).toBe(true);
    const grants = (fn: string) => {
      const [, f] = manifestFunction(fn);
      expect(f.Properties.Environment.Variables[envName.kmsKeyArn('webhook-secrets')], fn).toBeDefined();
      return statementsOfRole(refOf(f.Properties.Role)!)
        .flatMap((s) => list(s.Action))
        .filter((a) => a.startsWith('kms:'));
    };
    expect(grants('webhook-dispatch')).toEqual(['kms:GenerateDataKey']);
    expect(grants('webhook-deliverer')).toEqual(['kms:Decrypt']);
    const [, fanout] = manifestFunction('webhook-fanout');
    expect(fanout.Properties.Environment.Variables[envName.kmsKeyArn('webhook-secrets')]).toBeUndefined();
  });
});
