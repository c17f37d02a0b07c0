import { appdirectWiring } from './wiring/appdirect.ts';
import { opsWiring } from './wiring/ops.ts';
import { ordersWiring } from './wiring/orders.ts';
import { platformWiring } from './wiring/platform.ts';
import { saashopWiring } from './wiring/saashop.ts';
import { usageWiring } from './wiring/usage.ts';
import { webhooksWiring } from './wiring/webhooks.ts';
import { zuoraWiring } from './wiring/zuora.ts';
import type { Wiring, WiringPart } from './wiring-types.ts';

/**
 * THE manifest: every function, route, queue, event rule, schedule and secret of Switchboard, one
 * slice per capability under `infra/wiring/`. The CDK stateless stack deploys it, the local runtime
 * runs it, and `test/infra/wiring.test.ts` proves both agree. Declare a route or rule nowhere else.
 */
export function mergeWiring(parts: WiringPart[]): Wiring {
  const merged: Wiring = { functions: {}, routes: [], queues: {}, rules: [], schedules: [], secrets: {} };
  for (const part of parts) {
    for (const [name, fn] of Object.entries(part.functions ?? {})) {
      if (merged.functions[name]) throw new Error(`function ${name} is declared twice in the manifest`);
      merged.functions[name] = fn;
    }
    for (const [name, q] of Object.entries(part.queues ?? {})) {
      if (merged.queues[name]) throw new Error(`queue ${name} is declared twice in the manifest`);
      merged.queues[name] = q;
    }
    merged.routes.push(...(part.routes ?? []));
    merged.rules.push(...(part.rules ?? []));
    merged.schedules.push(...(part.schedules ?? []));
    Object.assign(merged.secrets, part.secrets ?? {});
  }
  return merged;
}

export const wiring: Wiring = mergeWiring([
  platformWiring,
  zuoraWiring,
  webhooksWiring,
  ordersWiring,
  usageWiring,
  appdirectWiring,
  saashopWiring,
  opsWiring,
]);

export const functionNames = Object.keys(wiring.functions);
