import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type SwitchboardApp } from '../../infra/app.ts';
import type { DeployStage } from '../../infra/config.ts';
import { FUNCTION_TAG } from '../../infra/constructs/service-function.ts';
import { wiring as manifest } from '../../infra/wiring.ts';
import type { Wiring } from '../../infra/wiring-types.ts';

/**
 * Builds the app as `cdk synth` would, minus bundling (context `aws:cdk:bundling-stacks: []`) so the
 * infra tests stay fast. `context` adds or overrides context values (`alarmEmail`, …).
 */
export function testApp(
  stage: DeployStage,
  options: { wiring: Wiring; nag?: boolean; context?: Record<string, unknown> },
): SwitchboardApp {
  const app = new App({
    context: { stage, 'aws:cdk:bundling-stacks': [], ...options.context },
  });
  return buildApp(app, options.wiring, { nag: options.nag ?? false });
}

/** The real manifest (async for the tests' loaders). */
export async function realWiring(): Promise<Wiring> {
  return manifest;
}

export interface SynthesizedWiring {
  routes: Array<{ routeKey: string; functionName: string }>;
  rules: Array<{ name: string; pattern: Record<string, unknown>; consumer: string }>;
  schedules: Array<{ name: string; expression: string; consumer: string }>;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** The logical id a `Ref` or `Fn::GetAtt` points at, or undefined. */
export function refOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  return undefined;
}

const describedName = (description: unknown): string => {
  const match = /^\[([^\]]+)\]/.exec(String(description ?? ''));
  if (!match?.[1]) throw new Error(`description ${String(description)} does not start with [name]`);
  return match[1];
};

/**
 * Reads the routes, rules and schedules back out of the synthesized stateless template (not out of
 * the manifest), following the references API route → integration → function, rule → queue → event
 * source mapping → function and schedule → function; function names come from their tag.
 */
export function wiringOfTemplate(template: Template): SynthesizedWiring {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  const fnName = (logicalId: string | undefined): string => {
    const tags = (resources[logicalId ?? '']?.Properties?.Tags ?? []) as Array<{
      Key: string;
      Value: string;
    }>;
    const name = tags.find((t) => t.Key === FUNCTION_TAG)?.Value;
    if (!name) throw new Error(`${String(logicalId)} is not a manifest function`);
    return name;
  };

  const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => {
    const target = JSON.stringify(r.Properties?.Target);
    const integrationId = Object.keys(resources).find(
      (id) => resources[id]?.Type === 'AWS::ApiGatewayV2::Integration' && target.includes(`"${id}"`),
    );
    const uri = resources[integrationId ?? '']?.Properties?.IntegrationUri;
    return { routeKey: String(r.Properties?.RouteKey), functionName: fnName(refOf(uri)) };
  });

  const consumerOfQueue = (queueId: string | undefined): string => {
    const mapping = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, m]) => refOf(m.Properties?.EventSourceArn) === queueId,
    );
    if (!mapping) throw new Error(`queue ${String(queueId)} has no consumer`);
    return fnName(refOf(mapping[1].Properties?.FunctionName));
  };

  const rules = ofType('AWS::Events::Rule').map(([, r]) => {
    const targets = (r.Properties?.Targets ?? []) as Array<{ Arn: unknown }>;
    if (targets.length !== 1)
      throw new Error(`rule ${String(r.Properties?.Description)} has ${targets.length} targets`);
    return {
      name: describedName(r.Properties?.Description),
      pattern: r.Properties?.EventPattern as Record<string, unknown>,
      consumer: consumerOfQueue(refOf(targets[0]!.Arn)),
    };
  });

  const schedules = ofType('AWS::Scheduler::Schedule').map(([, s]) => {
    const target = s.Properties?.Target as { Arn: unknown };
    return {
      name: describedName(s.Properties?.Description),
      expression: String(s.Properties?.ScheduleExpression),
      consumer: fnName(refOf(target.Arn)),
    };
  });
  return { routes, rules, schedules };
}

/**
 * What the CDK app deploys for a stage, as route/rule/schedule tables (for comparing with the
 * manifest and with the local runtime's tables). Without `wiring`, the real manifest.
 */
export function synthesizedWiring(stage: DeployStage = 'dev', wiring: Wiring = manifest): SynthesizedWiring {
  const { stateless } = testApp(stage, { wiring });
  return wiringOfTemplate(Template.fromStack(stateless));
}
