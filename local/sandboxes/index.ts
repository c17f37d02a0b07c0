import { createAppDirectSandbox } from './appdirect.ts';
import type { SandboxFactory } from './kit.ts';
import { createReceiverSandbox } from './receiver.ts';
import { createSaashopSandbox } from './saashop.ts';
import { createSalesforceSandbox } from './salesforce.ts';
import { createScreeningSandbox } from './screening.ts';
import { createZuoraSandbox } from './zuora/index.ts';

/**
 * Every sandbox the local runtime mounts under `/_sandbox/<name>`. Each capability adds its own
 * factory here (one line each).
 */
export const sandboxFactories: Record<string, SandboxFactory> = {
  zuora: createZuoraSandbox,
  appdirect: createAppDirectSandbox,
  salesforce: createSalesforceSandbox,
  screening: (ctx) => createScreeningSandbox(ctx),
  receiver: createReceiverSandbox,
  saashop: createSaashopSandbox,
};
