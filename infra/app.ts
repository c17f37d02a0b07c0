import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Tags, Validations } from 'aws-cdk-lib';
import { DEFAULT_CROSS_STACK_REFERENCES } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadStageConfig } from './config.ts';
import { StatefulStack } from './stacks/stateful-stack.ts';
import { StatelessStack } from './stacks/stateless-stack.ts';
import type { Wiring } from './wiring-types.ts';

export interface SwitchboardApp {
  app: App;
  stateful: StatefulStack;
  stateless: StatelessStack;
}

/**
 * Builds the Switchboard CDK app for the stage named in context: the stateful stack (table, bus,
 * secrets) and the stateless stack generated from the wiring manifest (plus the signing-key generator). Tests call it
 * with their own `App` (context, bundling skipped) and manifest (the real one or a fixture).
 */
export function buildApp(app: App, wiring: Wiring, options: { nag?: boolean } = {}): SwitchboardApp {
  const config = loadStageConfig((key) => app.node.tryGetContext(key));
  // Lock in today's producer-protecting cross-stack exports (stateful → stateless) explicitly.
  if (app.node.tryGetContext(DEFAULT_CROSS_STACK_REFERENCES) === undefined) {
    app.node.setContext(DEFAULT_CROSS_STACK_REFERENCES, 'strong');
  }
  const env =
    config.account || config.region ? { account: config.account, region: config.region } : undefined;
  const prefix = `Switchboard-${config.stage}`;
  Tags.of(app).add('app', 'switchboard');
  Tags.of(app).add('stage', config.stage);

  const stateful = new StatefulStack(app, `${prefix}-Stateful`, {
    env,
    config,
    wiring,
    description: `Switchboard ${config.stage}: table, event bus, secrets`,
    terminationProtection: config.stage === 'prod',
  });
  const stateless = new StatelessStack(app, `${prefix}-Stateless`, {
    env,
    config,
    wiring,
    table: stateful.table,
    bus: stateful.bus,
    secrets: stateful.secrets,
    keys: stateful.keys,
    description: `Switchboard ${config.stage}: API, functions, queues, rules, schedules, signing key`,
  });
  stateless.addStackDependency(stateful);
  // cdk-nag runs on every synth (`-c nag=false` skips it while iterating on a draft).
  const nagContext = app.node.tryGetContext('nag');
  if (options.nag ?? (nagContext !== 'false' && nagContext !== false)) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  }
  return { app, stateful, stateless };
}

// Entry point of `cdk synth` / `cdk deploy` (cdk.json: `npx tsx infra/app.ts`).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { wiring } = await import('./wiring.ts');
  buildApp(new App(), wiring).app.synth();
}
