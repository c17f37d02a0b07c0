import type { SandboxFactory } from './kit.ts';
import { createScreeningSandbox } from './screening.ts';
import { createZuoraSandbox } from './zuora/index.ts';

/**
 * Every sandbox the local runtime mounts under `/_sandbox/<name>`. Each capability adds its own
 * factory here (one line each).
 */
export const sandboxFactories: Record<string, SandboxFactory> = {
  zuora: createZuoraSandbox,
  screening: (ctx) => createScreeningSandbox(ctx),
};
