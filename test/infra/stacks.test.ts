import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadStageConfig, parseStageConfig, stageDefaults } from '../../infra/config.ts';
import { CAPABILITY_WIDGETS } from '../../infra/constructs/monitoring.ts';
import { FUNCTION_TAG } from '../../infra/constructs/service-function.ts';
import { checkWiring } from '../../infra/stacks/stateless-stack.ts';
import type { Wiring } from '../../infra/wiring-types.ts';
import { tableDefinition } from '../../shared/db/table.ts';
import { fixtureWiring } from './fixtures/wiring.ts';
import { realWiring, refOf, testApp } from './synth.ts';

// Synthesizing the app is CPU-bound (seconds each, more on a busy machine); no timing is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const resourcesOf = (t: Template) => t.toJSON().Resources as Record<string, Resource>;
const ofType = (t: Template, type: string) =>
  Object.entries(resourcesOf(t)).filter(([, r]) => r.Type === type);
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function templates(stage: 'dev' | 'prod', wiring: Wiring) {
  const { stateful, stateless } = testApp(stage, { wiring, context: { alarmEmail: 'ops@example.com' } });
  return { stateful: Template.fromStack(stateful), stateless: Template.fromStack(stateless) };
}

function envOf(t: Template, fn: string): Record<string, unknown> {
  const found = ofType(t, 'AWS::Lambda::Function').find(([, r]) =>
    (r.Properties.Tags ?? []).some(
      (tag: { Key: string; Value: string }) => tag.Key === FUNCTION_TAG && tag.Value === fn,
    ),
  );
  if (!found) throw new Error(`no function ${fn}`);
  return found[1].Properties.Environment?.Variables ?? {};
}

/** Statements of the policies attached to a manifest function's role. */
function statementsOf(t: Template, fn: string): Statement[] {
  const [fnId] = ofType(t, 'AWS::Lambda::Function').find(([, r]) =>
    (r.Properties.Tags ?? []).some(
      (tag: { Key: string; Value: string }) => tag.Key === FUNCTION_TAG && tag.Value === fn,
    ),
  )!;
  const roleId = refOf(resourcesOf(t)[fnId]!.Properties.Role);
  return ofType(t, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: unknown) => refOf(r) === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** Invariants that must hold for any manifest. */
function invariants(label: string, load: () => Promise<{ stateful: Template; stateless: Template }>) {
  describe(`invariants — ${label}`, () => {
    let stateful: Template;
    let stateless: Template;
    beforeAll(async () => {
      ({ stateful, stateless } = await load());
    });

    it('every queue has a DLQ, or is one; DLQs keep messages 14 days', () => {
      const queues = ofType(stateless, 'AWS::SQS::Queue');
      const dlqIds = new Set<string>();
      for (const [, q] of queues) {
        const target = q.Properties.RedrivePolicy?.deadLetterTargetArn;
        if (target) dlqIds.add(refOf(target)!);
      }
      const json = JSON.stringify(stateless.toJSON().Resources);
      for (const [id, q] of queues) {
        const isTargetDlq = json.includes(`"DeadLetterConfig":{"Arn":{"Fn::GetAtt":["${id}","Arn"]}}`);
        if (dlqIds.has(id) || isTargetDlq) {
          expect(q.Properties.MessageRetentionPeriod, id).toBe(14 * 24 * 3600);
        } else {
          expect(q.Properties.RedrivePolicy?.maxReceiveCount, `${id} has no DLQ`).toBeGreaterThan(0);
          expect(dlqIds.has(refOf(q.Properties.RedrivePolicy.deadLetterTargetArn)!)).toBe(true);
        }
      }
    });

    it('every queue is encrypted and refuses non-TLS access', () => {
      const policies = ofType(stateless, 'AWS::SQS::QueuePolicy');
      for (const [id, q] of ofType(stateless, 'AWS::SQS::Queue')) {
        expect(
          q.Properties.SqsManagedSseEnabled === true || q.Properties.KmsMasterKeyId !== undefined,
          id,
        ).toBe(true);
        const sslDeny = policies.some(
          ([, p]) =>
            p.Properties.Queues.some((qRef: unknown) => refOf(qRef) === id) &&
            p.Properties.PolicyDocument.Statement.some(
              (s: Json) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
            ),
        );
        expect(sslDeny, `${id} does not enforce SSL`).toBe(true);
      }
    });

    it('every rule targets exactly one SQS queue, with a DLQ for failed deliveries', () => {
      const resources = resourcesOf(stateless);
      for (const [id, rule] of ofType(stateless, 'AWS::Events::Rule')) {
        expect(rule.Properties.Targets, id).toHaveLength(1);
        const target = rule.Properties.Targets[0];
        expect(resources[refOf(target.Arn)!]?.Type, id).toBe('AWS::SQS::Queue');
        expect(resources[refOf(target.DeadLetterConfig?.Arn)!]?.Type, id).toBe('AWS::SQS::Queue');
        expect(rule.Properties.EventBusName, id).toBeDefined();
      }
    });

    it('every schedule has the manifest input, a retry policy and a DLQ', () => {
      for (const [id, s] of ofType(stateless, 'AWS::Scheduler::Schedule')) {
        const input = JSON.parse(s.Properties.Target.Input);
        expect(input.schedule, id).toBe(/^\[([^\]]+)\]/.exec(s.Properties.Description)![1]);
        expect(input.scheduledTime).toBe('<aws.scheduler.scheduled-time>');
        expect(s.Properties.Target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
        expect(s.Properties.Target.DeadLetterConfig.Arn).toBeDefined();
        expect(s.Properties.FlexibleTimeWindow.Mode).toBe('OFF');
      }
    });

    it('no policy grants a wildcard action, and data actions never target "*"', () => {
      for (const t of [stateful, stateless]) {
        for (const [id, p] of ofType(t, 'AWS::IAM::Policy')) {
          // CDK's BucketDeployment provider (uploads the console at deploy) is CDK's, not ours.
          if (id.startsWith('CustomCDKBucketDeployment')) continue;
          for (const s of p.Properties.PolicyDocument.Statement as Statement[]) {
            for (const action of list(s.Action)) {
              expect(action, `${id}: ${action}`).not.toContain('*');
              if (/^(dynamodb|events|secretsmanager|sqs|ses):/.test(action)) {
                expect(list(s.Resource), `${id}: ${action} on *`).not.toContain('*');
              }
            }
          }
        }
      }
    });

    it('every function: arm64, Node.js 22, active tracing, explicit memory/timeout, log group with retention', () => {
      for (const t of [stateful, stateless]) {
        const resources = resourcesOf(t);
        for (const [id, fn] of ofType(t, 'AWS::Lambda::Function')) {
          // The Provider framework's own function is CDK's, not ours (nag acknowledgments explain).
          if (String(fn.Properties.Description).includes('AWS CDK resource provider framework')) continue;
          // So is the BucketDeployment provider that copies the console into its bucket.
          if (id.startsWith('CustomCDKBucketDeployment')) continue;
          expect(fn.Properties.Architectures, id).toEqual(['arm64']);
          expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
          expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
          expect(fn.Properties.MemorySize, id).toBeGreaterThan(0);
          expect(fn.Properties.Timeout, id).toBeGreaterThan(0);
          const logGroup = resources[refOf(fn.Properties.LoggingConfig?.LogGroup)!];
          expect(logGroup?.Type, id).toBe('AWS::Logs::LogGroup');
          expect(logGroup?.Properties.RetentionInDays, id).toBeGreaterThan(0);
        }
      }
    });

    it('tracing and metrics: every function traces actively, may write X-Ray segments, is named for Powertools', () => {
      const resources = resourcesOf(stateless);
      const policiesOfRole = (roleId: string) =>
        ofType(stateless, 'AWS::IAM::Policy')
          .filter(([, p]) => p.Properties.Roles.some((r: unknown) => refOf(r) === roleId))
          .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
      // CDK's own handlers (the provider framework, the console's BucketDeployment) are not ours to trace.
      const ours = ofType(stateless, 'AWS::Lambda::Function').filter(
        ([id, fn]) =>
          !String(fn.Properties.Description).includes('AWS CDK resource provider framework') &&
          !id.startsWith('CustomCDKBucketDeployment'),
      );
      expect(ours.length).toBeGreaterThan(2);
      for (const [id, fn] of ours) {
        expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
        const xray = policiesOfRole(refOf(fn.Properties.Role)!).filter((s) =>
          list(s.Action).includes('xray:PutTraceSegments'),
        );
        expect(xray, `${id} cannot send traces`).toHaveLength(1);
        expect(list(xray[0]!.Action)).toContain('xray:PutTelemetryRecords');
        const env = fn.Properties.Environment?.Variables ?? {};
        const tag = (fn.Properties.Tags ?? []).find((t: { Key: string }) => t.Key === FUNCTION_TAG);
        expect(env.POWERTOOLS_SERVICE_NAME, id).toBe(tag?.Value ?? 'signing-key-rotator');
        expect(env.NODE_OPTIONS, id).toContain('--enable-source-maps');
        expect(resources[refOf(fn.Properties.Role)!]?.Type).toBe('AWS::IAM::Role');
      }
    });

    it('every SQS event source reports batch item failures', () => {
      const mappings = ofType(stateless, 'AWS::Lambda::EventSourceMapping');
      for (const [id, m] of mappings) {
        expect(m.Properties.FunctionResponseTypes, id).toEqual(['ReportBatchItemFailures']);
        expect(m.Properties.ScalingConfig?.MaximumConcurrency, id).toBeGreaterThanOrEqual(2);
      }
    });

    it('the table has PK/SK, every GSI of the shared definition, TTL on expiresAt, PITR and on-demand billing', () => {
      stateful.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [
          ...tableDefinition.globalSecondaryIndexes.map((g) => Match.objectLike({ IndexName: g.indexName })),
        ],
        Replicas: [
          Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
        ],
      });
    });

    it('the API logs every request as JSON to a log group with retention', () => {
      const [[, stage]] = ofType(stateless, 'AWS::ApiGatewayV2::Stage') as [[string, Resource]];
      const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      const logGroup = resourcesOf(stateless)[refOf(stage.Properties.AccessLogSettings.DestinationArn)!];
      expect(logGroup?.Properties.RetentionInDays).toBeGreaterThan(0);
      expect(stage.Properties.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
    });
  });
}

invariants('real manifest, dev', async () => templates('dev', await realWiring()));

describe('the real manifest', () => {
  it('gives every queue a visibility timeout of at least six times its consumer’s timeout (AWS guidance)', async () => {
    const wiring = await realWiring();
    for (const [name, q] of Object.entries(wiring.queues)) {
      const consumer = wiring.functions[q.consumer]!;
      expect(q.visibilityTimeoutSeconds, name).toBeGreaterThanOrEqual(6 * consumer.timeoutSeconds);
    }
  });
});
invariants('fixture manifest, prod', async () => templates('prod', fixtureWiring));

describe('generated from the fixture manifest', () => {
  let dev: { stateful: Template; stateless: Template };
  let prod: { stateful: Template; stateless: Template };
  beforeAll(() => {
    dev = templates('dev', fixtureWiring);
    prod = templates('prod', fixtureWiring);
  });

  it('each use becomes its env var, and functions serving JWT routes get the verification key', () => {
    const api = envOf(dev.stateless, 'api');
    expect(Object.keys(api)).toEqual(
      expect.arrayContaining(['TABLE_NAME', 'EVENT_BUS_NAME', 'QUEUE_DELIVERIES_URL', 'AUTH_JWKS_URL']),
    );
    expect(api).toMatchObject({ AUTH_ISSUER: 'switchboard', AUTH_AUDIENCE: 'switchboard-api', STAGE: 'dev' });
    const worker = envOf(dev.stateless, 'worker');
    expect(worker).toMatchObject({
      ZUORA_BASE_URL: 'https://rest.apisandbox.zuora.com',
      MAIL_FROM: stageDefaults.dev.mailFrom,
      EXTRA: 'x',
      POWERTOOLS_SERVICE_NAME: 'worker',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      SERVICE_NAME: 'switchboard',
    });
    expect(Object.keys(worker)).toEqual(
      expect.arrayContaining([
        'SECRET_ZUORA_CREDENTIALS_ARN',
        'SECRET_LICENCE_SIGNING_KEY_ARN',
        'AUTH_JWKS_URL', // authVerify use
      ]),
    );
    // Only a public route: no key, no table, nothing it does not use.
    const deliverer = envOf(dev.stateless, 'deliverer');
    expect(Object.keys(deliverer).sort()).toEqual(
      [
        'POWERTOOLS_LOG_LEVEL',
        'POWERTOOLS_SERVICE_NAME',
        'SERVICE_NAME',
        'STAGE',
        'NODE_OPTIONS',
        'AUTH_ISSUER',
        'AUTH_AUDIENCE',
      ].sort(),
    );
  });

  it("AUTH_JWKS_URL is the JWKS route of the stack's own API (verifiers follow rotations, no redeploy)", () => {
    const [[apiId]] = ofType(dev.stateless, 'AWS::ApiGatewayV2::Api') as [[string, Resource]];
    const url = JSON.stringify(envOf(dev.stateless, 'api').AUTH_JWKS_URL);
    expect(url).toContain(apiId);
    expect(url).toContain('/.well-known/jwks.json');
    expect(envOf(dev.stateless, 'api').AUTH_PUBLIC_JWK).toBeUndefined();
  });

  it('grants follow uses: read-only table users cannot write; writers can; nothing else is granted', () => {
    const workerActions = statementsOf(dev.stateless, 'worker').flatMap((s) => list(s.Action));
    expect(workerActions).toContain('dynamodb:Query');
    expect(workerActions).not.toContain('dynamodb:PutItem');
    expect(workerActions).not.toContain('events:PutEvents');
    expect(workerActions).toContain('secretsmanager:PutSecretValue'); // licence-signing-key readWrite
    const apiActions = statementsOf(dev.stateless, 'api').flatMap((s) => list(s.Action));
    expect(apiActions).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'events:PutEvents', 'sqs:SendMessage']),
    );
    expect(apiActions).not.toContain('secretsmanager:GetSecretValue');
    const delivererActions = statementsOf(dev.stateless, 'deliverer').flatMap((s) => list(s.Action));
    expect(delivererActions.filter((a) => /^(dynamodb|events|secretsmanager|ses):/.test(a))).toEqual([]);
  });

  it('table access names the table and its declared indexes, never index/*', () => {
    const table = statementsOf(dev.stateless, 'api').find((s) => list(s.Action).includes('dynamodb:Query'))!;
    const resources = JSON.stringify(table.Resource);
    expect(resources).toContain('/index/GSI1');
    expect(resources).toContain('/index/GSI2');
    expect(resources).not.toContain('index/*');
  });

  it('mail may be sent only as the configured SES identity', () => {
    const ses = statementsOf(dev.stateless, 'worker').find((s) => list(s.Action).includes('ses:SendEmail'))!;
    expect(JSON.stringify(ses.Resource)).toContain(`:identity/${stageDefaults.dev.mailIdentity}`);
  });

  it('queues follow the manifest: visibility, maxReceiveCount, batching and concurrency', () => {
    dev.stateless.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 180,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    dev.stateless.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('routes with their own throttle get stage route settings, created after those routes', () => {
    const [[, stage]] = ofType(dev.stateless, 'AWS::ApiGatewayV2::Stage') as [
      [string, Resource & { DependsOn?: string[] }],
    ];
    const throttled = ofType(dev.stateless, 'AWS::ApiGatewayV2::Route').find(
      ([, r]) => r.Properties.RouteKey === 'POST /v1/things',
    )!;
    expect(stage.DependsOn).toContain(throttled[0]);
    dev.stateless.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: { 'POST /v1/things': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 } },
      DefaultRouteSettings: Match.objectLike({
        ThrottlingRateLimit: stageDefaults.dev.apiThrottle.rateLimit,
      }),
    });
  });

  it('reserved concurrency: off in dev, capped per stage in prod', () => {
    const reserved = (t: Template) =>
      ofType(t, 'AWS::Lambda::Function')
        .map(([, f]) => f.Properties.ReservedConcurrentExecutions)
        .filter((v) => v !== undefined);
    expect(reserved(dev.stateless)).toEqual([]);
    expect(reserved(prod.stateless)).toEqual([stageDefaults.prod.reservedConcurrency.cap]);
  });

  it('prod retains and protects the table; dev deletes it', () => {
    const table = (t: Template) => ofType(t, 'AWS::DynamoDB::GlobalTable')[0]![1];
    expect(table(prod.stateful).DeletionPolicy).toBe('Retain');
    expect(table(prod.stateful).Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
    expect(table(dev.stateful).DeletionPolicy).toBe('Delete');
  });

  it('the bus has an archive with the stage retention, and every needed secret exists', () => {
    prod.stateful.hasResourceProperties('AWS::Events::Archive', {
      RetentionDays: stageDefaults.prod.archiveRetentionDays,
    });
    // declared (zuora), implied by a partner use (zuora) or a secret use (licence), and the signing key
    expect(ofType(dev.stateful, 'AWS::SecretsManager::Secret')).toHaveLength(3);
  });

  it('DLQ depth, errors, throttles, duration near timeout, queue age and API 5xx are alarmed to the ops topic', () => {
    const alarms = ofType(dev.stateless, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    // 4 DLQs (2 queues, rule targets, schedules) + 3 per function × 4 + 2 queue ages + API 5xx
    expect(alarms).toHaveLength(4 + 12 + 2 + 1);
    const [topicId] = ofType(dev.stateless, 'AWS::SNS::Topic')[0]!;
    for (const a of alarms) {
      expect(a.AlarmActions.map(refOf)).toEqual([topicId]);
      expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    }
    // Labelled metrics render as `Metrics[0].MetricStat`; unlabelled ones at the top level.
    const stat = (a: Json) =>
      a.Metrics?.[0]?.MetricStat ?? { Metric: a, Stat: a.ExtendedStatistic ?? a.Statistic };
    const byMetric = (name: string) => alarms.filter((a) => stat(a).Metric.MetricName === name);
    expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(4);
    expect(byMetric('Errors')).toHaveLength(4);
    expect(byMetric('Throttles').map((a) => a.Threshold)).toEqual([1, 1, 1, 1]);
    // p99 duration at 80 % of each fixture function's timeout (10, 30, 20, 60 s).
    const durations = byMetric('Duration');
    expect(durations.map((a) => stat(a).Stat)).toEqual(['p99', 'p99', 'p99', 'p99']);
    expect(durations.map((a) => a.Threshold).sort((x, y) => x - y)).toEqual([8000, 16000, 24000, 48000]);
    // Queue age: the default (max(15 min, 2 × visibility)) and a manifest override.
    const ages = byMetric('ApproximateAgeOfOldestMessage').map((a) => a.Threshold);
    expect(ages.sort((x, y) => x - y)).toEqual([900, 1200]);
    const api5xx = byMetric('5xx');
    expect(api5xx).toHaveLength(1);
    expect(stat(api5xx[0]!).Metric.Namespace).toBe('AWS/ApiGateway');
    expect(stat(api5xx[0]!).Stat).toBe('Sum');
    expect(api5xx[0]!.Threshold).toBe(1);
    dev.stateless.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('the dashboard shows the alarmed signals and every capability metric, summed over the functions', () => {
    const [[, dashboard]] = ofType(dev.stateless, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
    // The body is a Fn::Join of JSON text around references: keep the text parts.
    const parts = dashboard.Properties.DashboardBody['Fn::Join'][1] as unknown[];
    const body = parts.filter((p): p is string => typeof p === 'string').join('');
    for (const title of [
      'Function throttles',
      'Function duration p99',
      'Oldest queued message',
      'Dead-letter queue depth',
    ]) {
      expect(body).toContain(title);
    }
    for (const widget of CAPABILITY_WIDGETS) {
      expect(body).toContain(widget.title);
      for (const metric of widget.metrics) {
        expect(body).toContain(`SEARCH('{Switchboard,service} MetricName=\\"${metric}\\"'`);
      }
    }
  });
});

describe('configuration and manifest errors fail clearly', () => {
  const ctx = (values: Record<string, unknown>) => (key: string) => values[key];

  it('an unknown stage names the allowed ones', () => {
    expect(() => loadStageConfig(ctx({ stage: 'qa' }), {})).toThrow(
      /Invalid stage configuration: stage "qa" is not one of dev, staging, prod/,
    );
    expect(() => testApp('qa' as 'dev', { wiring: fixtureWiring })).toThrow(/stage "qa"/);
  });

  it('bad values name the field', () => {
    expect(() => loadStageConfig(ctx({ stage: 'dev', alarmEmail: 'not-an-address' }), {})).toThrow(
      /alarmEmail/,
    );
    expect(() =>
      loadStageConfig(ctx({ stage: 'dev', zuoraBaseUrl: 'http://insecure.example.com' }), {}),
    ).toThrow(/partnerBaseUrls\.zuora/);
    expect(() => loadStageConfig(ctx({ stage: 'prod', account: '12' }), {})).toThrow(/account/);
    expect(() => parseStageConfig({ ...stageDefaults.dev, stage: 'dev', logRetentionDays: 2 })).toThrow(
      /logRetentionDays/,
    );
  });

  it('defaults per stage validate, and context overrides apply', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      expect(loadStageConfig(ctx({ stage }), {}).stage).toBe(stage);
    }
    const config = loadStageConfig(
      ctx({ stage: 'prod', region: 'eu-west-1', screeningBaseUrl: 'https://s.example' }),
      {
        CDK_DEFAULT_ACCOUNT: '123456789012',
      },
    );
    expect(config).toMatchObject({ account: '123456789012', region: 'eu-west-1', removalPolicy: 'retain' });
    expect(config.partnerBaseUrls.screening).toBe('https://s.example');
  });

  it('a manifest with a dangling reference is refused before anything is built', () => {
    const broken: Wiring = {
      ...fixtureWiring,
      routes: [...fixtureWiring.routes, { ...fixtureWiring.routes[0]!, path: '/x', function: 'ghost' }],
      rules: [...fixtureWiring.rules, { ...fixtureWiring.rules[0]!, name: 'r2', queue: 'nowhere' }],
      functions: {
        ...fixtureWiring.functions,
        gone: { ...fixtureWiring.functions.cron!, entry: 'functions/gone/handler.ts' },
      },
    };
    expect(() => checkWiring(broken)).toThrow(
      /route POST \/x targets unknown function ghost.*rule r2 targets unknown queue nowhere|function gone: entry/,
    );
    expect(() => checkWiring(broken)).toThrow(/functions\/gone\/handler\.ts does not exist/);
    expect(() => checkWiring(fixtureWiring)).not.toThrow();
    const slowConsumer: Wiring = {
      ...fixtureWiring,
      queues: {
        ...fixtureWiring.queues,
        work: { ...fixtureWiring.queues.work!, visibilityTimeoutSeconds: 10 },
      },
    };
    expect(() => checkWiring(slowConsumer)).toThrow(
      /queue work: visibilityTimeoutSeconds 10 is below the timeout of worker \(30s\)/,
    );
  });
});
