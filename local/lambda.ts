import { AsyncLocalStorage } from 'node:async_hooks';
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
/**
 * Per-function environment in one process. `process.env` is replaced once by a proxy that, inside an
 * invocation (an AsyncLocalStorage context carrying the function's name), answers that function's
 * own variables first; everything else reads and writes the real environment. Module-scope code
 * runs inside the context too, so cold-start env parsing sees the right values.
 */
const currentFunction = new AsyncLocalStorage<Record<string, string>>();
let envProxyInstalled = false;
function installEnvProxy(): void {
  if (envProxyInstalled) return;
  envProxyInstalled = true;
  const base = process.env;
  process.env = new Proxy(base, {
    get(target, key) {
      const overlay = currentFunction.getStore();
      if (overlay && typeof key === 'string' && Object.hasOwn(overlay, key)) return overlay[key];
      return Reflect.get(target, key);
    },
    has(target, key) {
      const overlay = currentFunction.getStore();
      return (
        (overlay !== undefined && typeof key === 'string' && Object.hasOwn(overlay, key)) ||
        Reflect.has(target, key)
      );
    },
    ownKeys(target) {
      const overlay = currentFunction.getStore();
      return [...new Set([...Reflect.ownKeys(target), ...Object.keys(overlay ?? {})])];
    },
    // Writes always go to the real environment (process.env only accepts plain data properties).
    set(target, key, value) {
      return Reflect.set(target, key, value);
    },
    defineProperty(target, key, descriptor) {
      return Reflect.defineProperty(target, key, descriptor);
    },
    deleteProperty(target, key) {
      return Reflect.deleteProperty(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      const overlay = currentFunction.getStore();
      if (overlay && typeof key === 'string' && Object.hasOwn(overlay, key)) {
        return { value: overlay[key], writable: true, enumerable: true, configurable: true };
      }
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  });
}

/**
 * Imports a module in a fresh tsx namespace: the module and everything it imports are evaluated
 * anew (Node's module cache is keyed by URL, and each namespace gives every URL a new query).
 */
async function freshImport(url: string): Promise<{ handler?: Handler }> {
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(url, import.meta.url);
}

export class LocalLambdas {
  private readonly modules = new Map<string, Promise<Handler>>();
  /** Functions reloaded by `npm run dev`: their next load is a fresh module graph. */
  private readonly reloaded = new Set<string>();
  private inFlight = 0;
  readonly stats = { invocations: 0, errors: 0, timeouts: 0, coldStarts: 0 };

  constructor(
    private readonly functions: Record<string, FunctionSpec>,
    private readonly root: string,
    /** Each function's own variables (manifest `environment`). */
    private readonly environments: Record<string, Record<string, string>> = {},
  ) {
    installEnvProxy();
  }

  private withEnv<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return currentFunction.run(this.environments[name] ?? {}, fn);
  }

  private load(name: string): Promise<Handler> {
    let mod = this.modules.get(name);
    if (!mod) {
      const spec = this.functions[name];
      if (!spec) throw new Error(`function ${name} is not in the manifest`);
      this.stats.coldStarts++;
      const url = pathToFileURL(resolve(this.root, spec.entry)).href;
      mod = this.withEnv(name, () => (this.reloaded.has(name) ? freshImport(url) : import(url))).then(
        (m: { handler?: Handler }) => {
          if (typeof m.handler !== 'function') throw new Error(`${spec.entry} does not export a handler`);
          return m.handler;
        },
      );
      mod.catch(() => this.modules.delete(name));
      this.modules.set(name, mod);
    }
    return mod;
  }

  /**
   * `npm run dev`: forgets the loaded modules of `names`, so their next invocation is a cold start
   * from a fresh module graph (the handler and every module it imports, read again from disk).
   * Invocations already running finish on the old code. Returns once the new modules have loaded;
   * a module that fails to load rejects here and is tried again on the next invocation.
   */
  async reload(names: string[]): Promise<void> {
    for (const name of names) {
      if (!this.functions[name]) throw new Error(`function ${name} is not in the manifest`);
      this.reloaded.add(name);
      this.modules.delete(name);
    }
    await Promise.all(names.map((n) => this.load(n)));
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
        this.withEnv(name, () => handler(event, context)),
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
