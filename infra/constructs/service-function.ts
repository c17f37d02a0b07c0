import { Duration, type RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { tableDefinition } from '../../shared/db/table.ts';
import { HANDLER } from '../bundle/esbuild.ts';
import type { StageConfig } from '../config.ts';
import {
  envName,
  type FunctionSpec,
  type KmsKeyName,
  partnerSecret,
  type ResourceUse,
  type SecretName,
  type Wiring,
} from '../wiring-types.ts';
import { functionCode } from './bundling.ts';

/**
 * Findings every Switchboard function shares, each acknowledged with its reason (shared with the
 * signing-key provider's function).
 */
export function acknowledgeFunctionFindings(fn: LambdaFunction, role: Role): void {
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions',
  });
  const runtime = 'Node.js 22 is the runtime the code is built and tested on (engines, local runtime)';
  Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason: runtime });
  Validations.of(fn).acknowledge({ id: 'Serverless-LambdaLatestVersion', reason: runtime });
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Never invoked asynchronously: API calls are synchronous, queue and schedule invocations have their own DLQs',
  });
}

/** Tag carrying the manifest name of a function (tests map the template back to the manifest). */
export const FUNCTION_TAG = 'switchboard:function';

/** The shared resources a manifest function may use. */
export interface ServiceResources {
  table: ITableV2;
  bus: IEventBus;
  secrets: Record<SecretName, ISecret>;
  queues: Record<string, IQueue>;
  /** Customer-managed KMS keys (stateful stack). */
  keys: Record<KmsKeyName, IKey>;
  /** Origin(s) of the operator console, comma-separated (`https://<distribution>`). */
  consoleOrigins?: string;
  /** Every dead-letter queue, by the name operators see, with the queue it serves (if any). */
  deadLetterQueues?: Record<string, { dlq: IQueue; source?: IQueue }>;
}

export interface ServiceFunctionProps {
  /** Manifest name (`order-intake`). */
  name: string;
  spec: FunctionSpec;
  /** The manifest (the bundle's route table is generated from it). */
  wiring: Wiring;
  config: StageConfig;
  resources: ServiceResources;
  /** True when the function serves a route with `auth: 'jwt'`. */
  verifiesTokens: boolean;
  removalPolicy: RemovalPolicy;
}

/**
 * One manifest function (arm64, Node.js 22, the project's esbuild bundle, X-Ray, explicit log group
 * with retention, explicit memory and timeout). Each `ResourceUse` becomes its environment
 * variable and its least-privilege grant on the same lines, so a function can never name a resource
 * it is not allowed to touch, nor hold a permission it has no variable for.
 */
export class ServiceFunction extends Construct {
  readonly fn: LambdaFunction;
  /** Serves JWT routes or declares `authVerify`: gets AUTH_JWKS_URL. */
  readonly verifiesTokens: boolean;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    const { name, spec, config } = props;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: config.logRetentionDays as RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    // Own role instead of the managed AWSLambdaBasicExecutionRole: logs only to its own group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Switchboard ${config.stage} function ${name}`,
    });
    role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const reserved =
      config.reservedConcurrency.enabled && spec.reservedConcurrency !== undefined
        ? Math.min(spec.reservedConcurrency, config.reservedConcurrency.cap)
        : undefined;

    this.fn = new LambdaFunction(this, 'Function', {
      description: `${name}: ${spec.description}`.slice(0, 256),
      code: functionCode(this, { functionName: name, entry: spec.entry, wiring: props.wiring }),
      handler: HANDLER,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      role,
      ...(reserved !== undefined ? { reservedConcurrentExecutions: reserved } : {}),
      environment: {
        ...spec.environment,
        STAGE: config.stage,
        SERVICE_NAME: 'switchboard',
        POWERTOOLS_SERVICE_NAME: name,
        POWERTOOLS_LOG_LEVEL: config.logLevel,
        // Issuer and audience are plain settings: the token function signs with them, the rest verify.
        AUTH_ISSUER: config.auth.issuer,
        AUTH_AUDIENCE: config.auth.audience,
        // Stack traces point into the TypeScript sources: the asset holds a source map of names and
        // positions only (no source text), read by Node when an error's stack is formatted.
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    Tags.of(this.fn).add(FUNCTION_TAG, name);

    // AUTH_JWKS_URL is added by the stateless stack once the API (whose URL it is) exists.
    this.verifiesTokens = props.verifiesTokens || spec.uses.some((u) => u.kind === 'authVerify');
    for (const use of spec.uses) this.applyUse(use, props);

    acknowledgeFunctionFindings(this.fn, role);
  }

  /** One use → one env var + one grant, side by side. */
  private applyUse(use: ResourceUse, props: ServiceFunctionProps): void {
    const { fn } = this;
    const { resources, config, name } = props;
    switch (use.kind) {
      case 'table':
        fn.addEnvironment('TABLE_NAME', resources.table.tableName);
        fn.addToRolePolicy(tableAccess(resources.table, use.access));
        return;
      case 'bus':
        fn.addEnvironment('EVENT_BUS_NAME', resources.bus.eventBusName);
        resources.bus.grantPutEventsTo(fn);
        return;
      case 'authVerify':
        return; // handled above: the public key needs no grant
      case 'secret': {
        const secret = secretOf(resources, use.name, name);
        fn.addEnvironment(envName.secretArn(use.name), secret.secretArn);
        secret.grantRead(fn);
        if (use.access === 'readWrite') secret.grantWrite(fn);
        return;
      }
      case 'queue': {
        const queue = resources.queues[use.name];
        if (!queue)
          throw new Error(`function ${name} uses queue ${use.name}, which the manifest does not declare`);
        fn.addEnvironment(envName.queueUrl(use.name), queue.queueUrl);
        queue.grantSendMessages(fn);
        return;
      }
      case 'mail': {
        const stack = Stack.of(this);
        fn.addEnvironment('MAIL_FROM', config.mailFrom);
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['ses:SendEmail'],
            resources: [
              stack.formatArn({ service: 'ses', resource: 'identity', resourceName: config.mailIdentity }),
            ],
          }),
        );
        return;
      }
      case 'partner': {
        const secretName = partnerSecret(use.name);
        const secret = secretOf(resources, secretName, name);
        fn.addEnvironment(envName.partnerBaseUrl(use.name), config.partnerBaseUrls[use.name]);
        fn.addEnvironment(envName.secretArn(secretName), secret.secretArn);
        secret.grantRead(fn);
        return;
      }
      case 'console': {
        if (!resources.consoleOrigins)
          throw new Error(`function ${name} uses the console, which is not built`);
        fn.addEnvironment('CONSOLE_ORIGINS', resources.consoleOrigins);
        return;
      }
      case 'kmsKey': {
        const key = resources.keys[use.name];
        if (!key) throw new Error(`function ${name} uses KMS key ${use.name}, which is not built`);
        fn.addEnvironment(envName.kmsKeyArn(use.name), key.keyArn);
        key.grant(fn, use.access === 'encrypt' ? 'kms:GenerateDataKey' : 'kms:Decrypt');
        return;
      }
      case 'deadLetters': {
        const all = Object.entries(resources.deadLetterQueues ?? {});
        fn.addEnvironment(
          'DEAD_LETTER_QUEUES',
          Stack.of(this).toJsonString(
            all.map(([queueName, q]) => ({
              name: queueName,
              url: q.dlq.queueUrl,
              arn: q.dlq.queueArn,
              ...(q.source ? { sourceArn: q.source.queueArn } : {}),
            })),
          ),
        );
        // Depth and a peek of each DLQ, and its redrive (a message move task reads and deletes on
        // the DLQ and sends to the source queue with the caller's permissions).
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: [
              'sqs:GetQueueAttributes',
              'sqs:ReceiveMessage',
              'sqs:DeleteMessage',
              'sqs:StartMessageMoveTask',
              'sqs:ListMessageMoveTasks',
            ],
            resources: all.map(([, q]) => q.dlq.queueArn),
          }),
        );
        const sources = all.flatMap(([, q]) => (q.source ? [q.source.queueArn] : []));
        if (sources.length)
          fn.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: sources }));
        // ApproximateAgeOfOldestMessage is a CloudWatch metric, not a queue attribute.
        fn.addToRolePolicy(new PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
        Validations.of(fn).acknowledge({
          id: 'AwsSolutions-IAM5[Action::cloudwatch:GetMetricData]',
          reason: 'cloudwatch:GetMetricData supports no resource-level permissions',
        });
        return;
      }
      default: {
        // A new kind of use must be given its env var and grant here (a type error until it is).
        const unknownUse: never = use;
        throw new Error(`function ${name}: unsupported resource use ${JSON.stringify(unknownUse)}`);
      }
    }
  }
}

const TABLE_READ = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];
const TABLE_WRITE = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/**
 * Data-plane access to the table and its declared indexes by name — narrower than `grantReadData`,
 * which adds `index/*`, and without stream or wildcard actions.
 */
export function tableAccess(table: ITableV2, access: 'read' | 'readWrite'): PolicyStatement {
  return new PolicyStatement({
    actions: access === 'readWrite' ? [...TABLE_READ, ...TABLE_WRITE] : TABLE_READ,
    resources: [
      table.tableArn,
      ...tableDefinition.globalSecondaryIndexes.map((gsi) => `${table.tableArn}/index/${gsi.indexName}`),
    ],
  });
}

function secretOf(resources: ServiceResources, secret: SecretName, fn: string): ISecret {
  const found = resources.secrets[secret];
  if (!found)
    throw new Error(`function ${fn} uses secret ${secret}, which the stateful stack did not create`);
  return found;
}
