import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, type ITableV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { tableDefinition } from '../../shared/db/table.ts';
import type { StageConfig } from '../config.ts';
import { type KmsKeyName, partnerSecret, type SecretName, type Wiring } from '../wiring-types.ts';

export interface StatefulStackProps extends StackProps {
  config: StageConfig;
  wiring: Wiring;
}

/** Every secret the stack must create: those declared plus those implied by uses. */
export function secretNames(wiring: Wiring): SecretName[] {
  const names = new Set<SecretName>(Object.keys(wiring.secrets) as SecretName[]);
  for (const fn of Object.values(wiring.functions)) {
    for (const use of fn.uses) {
      if (use.kind === 'secret') names.add(use.name);
      if (use.kind === 'partner') names.add(partnerSecret(use.name));
    }
  }
  // The token function signs with it; the signing-key rotation fills and rotates it.
  names.add('auth-signing-key');
  return [...names].sort();
}

/** Every KMS key a function uses. */
export function kmsKeyNames(wiring: Wiring): KmsKeyName[] {
  const names = new Set<KmsKeyName>();
  for (const fn of Object.values(wiring.functions))
    for (const use of fn.uses) if (use.kind === 'kmsKey') names.add(use.name);
  return [...names].sort();
}

/**
 * What outlives deployments: the single table, the hub event bus with its archive and the secrets
 * (including the one holding the token signing key). The stateless stack receives these constructs
 * by props.
 */
export class StatefulStack extends Stack {
  readonly table: ITableV2;
  readonly bus: IEventBus;
  readonly secrets: Record<SecretName, ISecret>;
  readonly keys: Record<KmsKeyName, IKey>;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config, wiring } = props;
    const retain = config.removalPolicy === 'retain';
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const key = (name: string) => ({ name, type: AttributeType.STRING });
    // CloudFormation creates at most one index per table update: an existing stage receives new
    // indexes one deploy at a time with `-c tableIndexes=<n>` (see README, Operations console).
    const indexCount = Number(
      this.node.tryGetContext('tableIndexes') ?? tableDefinition.globalSecondaryIndexes.length,
    );
    this.table = new TableV2(this, 'Table', {
      partitionKey: key(tableDefinition.partitionKey),
      sortKey: key(tableDefinition.sortKey),
      globalSecondaryIndexes: tableDefinition.globalSecondaryIndexes.slice(0, indexCount).map((gsi) => ({
        indexName: gsi.indexName,
        partitionKey: key(gsi.partitionKey),
        sortKey: key(gsi.sortKey),
      })),
      timeToLiveAttribute: tableDefinition.ttlAttribute,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.deletionProtection,
      removalPolicy,
    });

    const bus = new EventBus(this, 'Bus', { description: `Switchboard hub bus (${config.stage})` });
    bus.archive('Archive', {
      description: 'Every hub event, for replay after an incident',
      eventPattern: { account: [Stack.of(this).account] },
      retention: Duration.days(config.archiveRetentionDays),
    });
    this.bus = bus;

    const secrets: Partial<Record<SecretName, ISecret>> = {};
    for (const name of secretNames(wiring)) {
      const secret = new Secret(this, `Secret-${name}`, {
        description: `Switchboard ${config.stage}: ${wiring.secrets[name]?.description ?? name}`,
        // Retained in prod: partner credentials are filled by hand and must survive a stack replacement.
        removalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          name === 'auth-signing-key'
            ? 'Rotated by its rotation schedule in the stateless stack (signing-key-rotator)'
            : 'Partner-issued credentials: rotated when the partner issues new ones, not by a Lambda',
      });
      secrets[name] = secret;
      // Operators fill partner secrets by ARN (see README); the output names which is which.
      new CfnOutput(this, `SecretArn-${name}`, { value: secret.secretArn, description: `Secret ${name}` });
    }
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName });
    this.secrets = secrets as Record<SecretName, ISecret>;

    // Envelope encryption keys (webhook endpoint secrets): KMS rotates the key material yearly and
    // keeps every old version, so data keys sealed before a rotation still decrypt.
    const keys: Partial<Record<KmsKeyName, IKey>> = {};
    for (const name of kmsKeyNames(wiring)) {
      keys[name] = new Key(this, `Key-${name}`, {
        description: `Switchboard ${config.stage}: ${name} envelope encryption`,
        enableKeyRotation: true,
        removalPolicy,
        ...(retain ? {} : { pendingWindow: Duration.days(7) }),
      });
    }
    this.keys = keys as Record<KmsKeyName, IKey>;
  }
}
