import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnRotationSchedule, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { HANDLER } from '../bundle/esbuild.ts';
import type { Wiring } from '../wiring-types.ts';
import { functionCode } from './bundling.ts';
import { acknowledgeFunctionFindings } from './service-function.ts';

export interface SigningKeyRotationProps {
  /** The `auth-signing-key` secret that holds the key set {previous?, current, next}. */
  secret: ISecret;
  /** Days between rotations. */
  rotationDays: number;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  /** The manifest (build-time modules of the bundle come from it). */
  wiring: Wiring;
}

/**
 * Rotation of the token signing keys: the `signing-key-rotator` function and the Secrets Manager
 * rotation schedule that calls it (createSecret, setSecret, testSecret, finishSecret). Each rotation
 * promotes next → current → previous and mints a new next; the first one runs as soon as the schedule
 * is deployed (it turns the generated secret, or a pre-rotation `{privateJwk}`, into a key set).
 * Verifiers read the public keys from `GET /.well-known/jwks.json` (AUTH_JWKS_URL).
 */
export class SigningKeyRotation extends Construct {
  readonly rotator: LambdaFunction;

  constructor(scope: Construct, id: string, props: SigningKeyRotationProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    this.rotator = new LambdaFunction(this, 'Handler', {
      role,
      description: 'Rotates the ES256 token signing key set (Secrets Manager rotation function)',
      code: functionCode(this, {
        functionName: 'signing-key-rotator',
        entry: 'functions/signing-key-rotator/handler.ts',
        wiring: props.wiring,
      }),
      handler: HANDLER,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'signing-key-rotator',
        // Stack traces point into the TypeScript sources (see ServiceFunction).
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    acknowledgeFunctionFindings(this.rotator, role);
    // The L1 schedule rather than RotationSchedule: the L2 also grants GetRandomPassword on "*",
    // which this rotator never calls. Grants are on this secret only.
    role.addToPolicy(
      new PolicyStatement({
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        resources: [props.secret.secretArn],
      }),
    );
    this.rotator.addPermission('InvokedBySecretsManager', {
      principal: new ServicePrincipal('secretsmanager.amazonaws.com'),
    });
    const invoke = this.rotator.permissionsNode.findChild('InvokedBySecretsManager');
    const schedule = new CfnRotationSchedule(this, 'Schedule', {
      secretId: props.secret.secretArn,
      rotationLambdaArn: this.rotator.functionArn,
      rotationRules: { scheduleExpression: `rate(${props.rotationDays} days)` },
      rotateImmediatelyOnUpdate: true,
    });
    // Secrets Manager rotates at once on creation: the permission and the grants must exist by then.
    schedule.node.addDependency(invoke, role);
  }
}
