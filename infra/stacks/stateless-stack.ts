import { existsSync } from 'node:fs';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { type CfnStage, CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type EventPattern, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { schedulerInputTemplate } from '../../shared/events/scheduled.ts';
import type { StageConfig } from '../config.ts';
import { repoPath } from '../constructs/bundling.ts';
import { ConsoleSite } from '../constructs/console-site.ts';
import { Monitoring } from '../constructs/monitoring.ts';
import { ServiceFunction } from '../constructs/service-function.ts';
import { SigningKeyRotation } from '../constructs/signing-key.ts';
import { type KmsKeyName, routeKey, type SecretName, type Wiring } from '../wiring-types.ts';

export interface StatelessStackProps extends StackProps {
  config: StageConfig;
  wiring: Wiring;
  table: ITableV2;
  bus: IEventBus;
  secrets: Record<SecretName, ISecret>;
  keys: Record<KmsKeyName, IKey>;
}

/** Prefix put in rule and schedule descriptions: `[name] description` (names are AWS-generated). */
export const labelled = (name: string, description: string): string =>
  `[${name}] ${description}`.slice(0, 512);

/** Checks the manifest's cross references before building anything, naming the broken one. */
export function checkWiring(wiring: Wiring): void {
  const problems: string[] = [];
  const fns = new Set(Object.keys(wiring.functions));
  for (const [name, fn] of Object.entries(wiring.functions)) {
    if (!existsSync(repoPath(fn.entry))) problems.push(`function ${name}: entry ${fn.entry} does not exist`);
  }
  const keys = new Set<string>();
  for (const r of wiring.routes) {
    if (!fns.has(r.function)) problems.push(`route ${routeKey(r)} targets unknown function ${r.function}`);
    if (keys.has(routeKey(r))) problems.push(`route ${routeKey(r)} is declared twice`);
    keys.add(routeKey(r));
  }
  for (const [name, q] of Object.entries(wiring.queues)) {
    const consumer = wiring.functions[q.consumer];
    if (!consumer) problems.push(`queue ${name} is consumed by unknown function ${q.consumer}`);
    // AWS refuses the event source mapping otherwise (a message would reappear mid-invocation).
    else if (q.visibilityTimeoutSeconds < consumer.timeoutSeconds) {
      problems.push(
        `queue ${name}: visibilityTimeoutSeconds ${q.visibilityTimeoutSeconds} is below the timeout of ${q.consumer} (${consumer.timeoutSeconds}s)`,
      );
    }
  }
  const names = new Set<string>();
  for (const rule of wiring.rules) {
    if (!wiring.queues[rule.queue]) problems.push(`rule ${rule.name} targets unknown queue ${rule.queue}`);
    if (names.has(`rule:${rule.name}`)) problems.push(`rule ${rule.name} is declared twice`);
    names.add(`rule:${rule.name}`);
  }
  for (const s of wiring.schedules) {
    if (!fns.has(s.function)) problems.push(`schedule ${s.name} targets unknown function ${s.function}`);
    if (names.has(`schedule:${s.name}`)) problems.push(`schedule ${s.name} is declared twice`);
    names.add(`schedule:${s.name}`);
  }
  if (problems.length > 0) throw new Error(`Invalid wiring manifest: ${problems.join('; ')}`);
}

/**
 * Everything that can be redeployed at will, generated from the wiring manifest: the token signing
 * key generator (the key itself lives in the stateful stack's secret), one function per manifest function, the HTTP API and its routes, a queue + DLQ per manifest queue, a rule per
 * manifest rule (delivering into its queue), a Scheduler schedule per manifest schedule, alarms.
 */
export class StatelessStack extends Stack {
  readonly api: HttpApi;
  readonly functions: Record<string, ServiceFunction> = {};
  readonly queues: Record<string, Queue> = {};

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, wiring } = props;
    checkWiring(wiring);
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const retention = config.logRetentionDays as RetentionDays;

    const dlq = (id: string) => {
      const queue = new Queue(this, id, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(queue).acknowledge({
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'This queue is itself a dead-letter queue (alarmed on depth)',
      });
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself a dead-letter queue (alarmed on depth)',
      });
      return queue;
    };

    // Queues first: a function may send to a queue another function consumes.
    const queueDlqs: Record<string, Queue> = {};
    for (const [name, spec] of Object.entries(wiring.queues)) {
      const deadLetters = dlq(`Queue-${name}-Dlq`);
      queueDlqs[name] = deadLetters;
      this.queues[name] = new Queue(this, `Queue-${name}`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: deadLetters, maxReceiveCount: spec.maxReceiveCount },
      });
    }

    // The rotation schedule lives with its function here (the secret is the stateful stack's): a
    // schedule in the stateful stack would make it depend on this one.
    new SigningKeyRotation(this, 'SigningKeyRotation', {
      secret: props.secrets['auth-signing-key'],
      rotationDays: config.signingKeyRotationDays,
      logRetention: retention,
      removalPolicy,
      wiring,
    });

    // Before the functions: the token and ops functions are told the console's origin.
    const consoleSite = new ConsoleSite(this, 'Console', { removalPolicy });
    const ruleTargetDlq = wiring.rules.length > 0 ? dlq('RuleTargetDlq') : undefined;
    const scheduleDlq = wiring.schedules.length > 0 ? dlq('ScheduleDlq') : undefined;
    const deadLetterQueues = {
      ...Object.fromEntries(
        Object.entries(queueDlqs).map(([n, q]) => [n, { dlq: q, source: this.queues[n]! }]),
      ),
      ...(ruleTargetDlq ? { 'rule-targets': { dlq: ruleTargetDlq } } : {}),
      ...(scheduleDlq ? { schedules: { dlq: scheduleDlq } } : {}),
    };

    const tokenRoutes = new Set(wiring.routes.filter((r) => r.auth === 'jwt').map((r) => r.function));
    for (const [name, spec] of Object.entries(wiring.functions)) {
      this.functions[name] = new ServiceFunction(this, `Fn-${name}`, {
        name,
        spec,
        wiring,
        config,
        verifiesTokens: tokenRoutes.has(name),
        removalPolicy,
        resources: {
          table: props.table,
          bus: props.bus,
          secrets: props.secrets,
          keys: props.keys,
          queues: this.queues,
          consoleOrigins: consoleSite.origin,
          deadLetterQueues,
        },
      });
    }

    for (const [name, spec] of Object.entries(wiring.queues)) {
      const consumer = this.functions[spec.consumer]!.fn;
      const source = new SqsEventSource(this.queues[name]!, {
        batchSize: spec.batchSize,
        maxBatchingWindow:
          spec.maxBatchingWindowSeconds > 0 ? Duration.seconds(spec.maxBatchingWindowSeconds) : undefined,
        maxConcurrency: spec.maxConcurrency,
        reportBatchItemFailures: true,
      });
      consumer.addEventSource(source);
      Validations.of(consumer).acknowledge({
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason: 'SQS event sources have no on-failure destination: failed messages go to the queue DLQ',
      });
    }

    this.api = this.buildApi(props, retention, removalPolicy, consoleSite.origin);
    // Verifiers fetch the published key set from the API itself (the API does not depend on the
    // functions' configuration, only its routes do, so this is no cycle).
    for (const fn of Object.values(this.functions)) {
      if (fn.verifiesTokens)
        fn.fn.addEnvironment('AUTH_JWKS_URL', `${this.api.apiEndpoint}/.well-known/jwks.json`);
    }
    consoleSite.deploy(this.api.apiEndpoint);
    new CfnOutput(this, 'ConsoleUrl', {
      value: `${consoleSite.origin}/console/`,
      description: 'Operator console',
    });
    new CfnOutput(this, 'ApiReferenceUrl', {
      value: `${consoleSite.origin}/docs/`,
      description: 'API reference (Swagger UI over the API\u2019s GET /openapi.json)',
    });

    // Events EventBridge could not deliver to a rule's queue (after its retries) land in ruleTargetDlq.
    for (const rule of wiring.rules) {
      new Rule(this, `Rule-${rule.name}`, {
        eventBus: props.bus,
        description: labelled(rule.name, rule.description),
        // Manifest patterns use EventBridge's own keys (`detail-type`); CDK passes them through.
        eventPattern: rule.pattern as EventPattern,
        targets: [
          new SqsQueue(this.queues[rule.queue]!, {
            deadLetterQueue: ruleTargetDlq,
            retryAttempts: 185,
            maxEventAge: Duration.hours(24),
          }),
        ],
      });
    }

    for (const s of wiring.schedules) {
      const target = this.functions[s.function]!.fn;
      const targetId = this.resolve(this.getLogicalId(target.node.defaultChild as CfnFunction));
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${targetId}.Arn>:*]`,
        reason: 'Scheduler target role may invoke the function and its versions (CDK LambdaInvoke grant)',
      });
      new Schedule(this, `Schedule-${s.name}`, {
        description: labelled(s.name, s.description),
        schedule: ScheduleExpression.expression(s.expression),
        target: new LambdaInvoke(target, {
          input: ScheduleTargetInput.fromObject({ ...schedulerInputTemplate(s.name), ...(s.input ?? {}) }),
          deadLetterQueue: scheduleDlq,
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      });
    }

    new Monitoring(this, 'Monitoring', {
      stage: config.stage,
      alarmEmail: config.alarmEmail,
      functions: Object.fromEntries(
        Object.entries(this.functions).map(([n, f]) => [
          n,
          { fn: f.fn, timeoutSeconds: wiring.functions[n]!.timeoutSeconds },
        ]),
      ),
      queues: Object.fromEntries(
        Object.entries(wiring.queues).map(([n, spec]) => [
          n,
          {
            queue: this.queues[n]!,
            oldestMessageAlarmSeconds:
              spec.oldestMessageAlarmSeconds ?? Math.max(900, spec.visibilityTimeoutSeconds * 2),
          },
        ]),
      ),
      deadLetterQueues: {
        ...Object.fromEntries(Object.entries(queueDlqs).map(([n, q]) => [`queue ${n}`, q])),
        ...(ruleTargetDlq ? { 'rule targets': ruleTargetDlq } : {}),
        ...(scheduleDlq ? { schedules: scheduleDlq } : {}),
      },
      api: this.api,
    });
  }

  private buildApi(
    props: StatelessStackProps,
    retention: RetentionDays,
    removalPolicy: RemovalPolicy,
    consoleOrigin: string,
  ): HttpApi {
    const { config, wiring } = props;
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention, removalPolicy });
    const api = new HttpApi(this, 'Api', {
      description: `Switchboard ${config.stage} API`,
      createDefaultStage: true,
      // The operator console (another origin) calls the API with its bearer token; nobody else may.
      corsPreflight: {
        allowOrigins: [consoleOrigin],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    // One integration per function, shared by all its routes.
    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of wiring.routes) {
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          `Integration-${route.function}`,
          this.functions[route.function]!.fn,
        );
        integrations.set(route.function, integration);
      }
      const created = api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
      // CloudFormation rejects RouteSettings naming a route that does not exist yet.
      if (route.throttle) api.defaultStage!.node.addDependency(...created);
    }

    const stage = api.defaultStage!.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: config.apiThrottle.rateLimit,
      throttlingBurstLimit: config.apiThrottle.burstLimit,
      detailedMetricsEnabled: true,
    };
    stage.routeSettings = Object.fromEntries(
      wiring.routes
        .filter((r) => r.throttle)
        .map((r) => [
          routeKey(r),
          // RouteSettings is untyped JSON in the L1: keys are written as CloudFormation spells them.
          { ThrottlingRateLimit: r.throttle!.rateLimit, ThrottlingBurstLimit: r.throttle!.burstLimit },
        ]),
    );
    const format = JSON.stringify({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      requestTime: '$context.requestTime',
      routeKey: '$context.routeKey',
      status: '$context.status',
      protocol: '$context.protocol',
      responseLength: '$context.responseLength',
      latencyMs: '$context.responseLatency',
      integrationLatencyMs: '$context.integrationLatency',
      integrationError: '$context.integrationErrorMessage',
      errorMessage: '$context.error.message',
    });
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format,
    };

    // Tokens are verified in the Lambda (ES256 JWT, scopes per route from the manifest): API Gateway's
    // JWT authorizer needs an OIDC issuer URL the hub does not run.
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Authorization is enforced in each function (ES256 JWT with per-route scopes from the manifest)',
    });
    new CfnOutput(this, 'ApiUrl', { value: api.apiEndpoint, description: 'Base URL of the Switchboard API' });
    return api;
  }
}
