import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { FunctionSpec } from '../infra/wiring-types.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export class LambdaTimeoutError extends Error {
  constructor(functionName: string, seconds: number) {
    super(`${functionName}: Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'LambdaTimeoutError';
  }
}

/**
 * Runs the manifest's functions in-process the way Lambda would: the module is loaded once (cold
 * start) and reused, every invocation gets a fresh context whose `getRemainingTimeInMillis` counts
 * down from the function's timeout, and an invocation that outlives its timeout fails with Lambda's
 * "Task timed out" error. (Unlike Lambda, the timed-out promise cannot be frozen: it is abandoned.)
 */
export class LocalLambdas {
  private readonly modules = new Map<string, Promise<Handler>>();
  private inFlight = 0;
  readonly stats = { invocations: 0, errors: 0, timeouts: 0, coldStarts: 0 };

  constructor(
    private readonly functions: Record<string, FunctionSpec>,
    private readonly root: string,
  ) {}

  private load(name: string): Promise<Handler> {
    let mod = this.modules.get(name);
    if (!mod) {
      const spec = this.functions[name];
      if (!spec) throw new Error(`function ${name} is not in the manifest`);
      this.stats.coldStarts++;
      mod = import(pathToFileURL(resolve(this.root, spec.entry)).href).then((m: { handler?: Handler }) => {
        if (typeof m.handler !== 'function') throw new Error(`${spec.entry} does not export a handler`);
        return m.handler;
      });
      mod.catch(() => this.modules.delete(name));
      this.modules.set(name, mod);
    }
    return mod;
  }

  /** Loads every function once, so a broken module fails the start rather than the first request. */
  async warm(): Promise<void> {
    await Promise.all(Object.keys(this.functions).map((n) => this.load(n)));
  }

  get busy(): number {
    return this.inFlight;
  }

  async invoke(name: string, event: unknown): Promise<unknown> {
    const spec = this.functions[name];
    if (!spec) throw new Error(`function ${name} is not in the manifest`);
    const handler = await this.load(name);
    const timeoutMs = spec.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const requestId = randomUUID();
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      memoryLimitInMB: String(spec.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: `local/${requestId}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    this.stats.invocations++;
    this.inFlight++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        handler(event, context),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.stats.timeouts++;
            reject(new LambdaTimeoutError(name, spec.timeoutSeconds));
          }, timeoutMs);
        }),
      ]);
    } catch (error) {
      this.stats.errors++;
      throw error;
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }
}
