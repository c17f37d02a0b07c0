import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { Clock } from '../../shared/clock.ts';

/**
 * The common shape of every partner sandbox (Zuora, Salesforce, SaaShop, AppDirect, screening, mail,
 * receiver). The runtime mounts sandbox `S` under `/_sandbox/S/…`; the kit adds the controls every
 * sandbox has: `GET|DELETE /_records` and `PUT|GET /_faults`, fault injection before each partner
 * call, and persistence of records and state under the data folder so a restart keeps them (each record
 * appended to `<name>.json.journal` before the answer; state in the snapshot, written 20 ms after a change).
 * A partner call's records and the state it changed become durable together, before its answer: a kill
 * mid-call leaves neither, never a record of an order whose idempotency key was lost (which the chaos
 * soak then counted as a second Zuora order when the hub retried).
 */
export interface SandboxRequest {
  method: string;
  /** Path below the sandbox mount, starting with `/` (e.g. `/v1/orders`). */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
  text(): string;
  /** Parsed JSON body; throws SyntaxError on malformed JSON (answer it as the partner would). */
  json<T = unknown>(): T;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as text. */
  body?: unknown;
}

export type SandboxRoute = (req: SandboxRequest) => Promise<SandboxResponse> | SandboxResponse;

export interface SandboxContext {
  /** Base URL of the local runtime, e.g. `http://127.0.0.1:3000`. */
  runtimeUrl: string;
  /** Base URL of this sandbox (`${runtimeUrl}/_sandbox/${name}`). */
  baseUrl: string;
  clock: Clock;
  /** Folder for this sandbox's persisted files (undefined: in memory only). */
  dataDir: string | undefined;
  /** Random source (seedable in tests). */
  random: () => number;
}

export const faultsSchema = z
  .object({
    errorRate: z.number().min(0).max(1).default(0),
    status: z.number().int().min(400).max(599).default(503),
    latencyMs: z.number().int().min(0).max(60_000).default(0),
    timeoutRate: z.number().min(0).max(1).default(0),
    rateLimitRate: z.number().min(0).max(1).default(0),
  })
  .strict();
export type Faults = z.infer<typeof faultsSchema>;

export interface SandboxRecord {
  seq: number;
  at: string;
  kind: string;
  [field: string]: unknown;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: SandboxRoute;
}

/** How long a "timeout" fault holds the request before answering 504 (clients give up first). */
export const TIMEOUT_HOLD_MS = 30_000;

export class Sandbox<State extends object = Record<string, unknown>> {
  readonly routes: Route[] = [];
  records: SandboxRecord[] = [];
  faults: Faults = faultsSchema.parse({});
  state: State;
  private seq = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private stateDirty = false;
  private readonly file: string | undefined;
  /** Journal lines of the partner call in progress, written when it answers (with its state). */
  private readonly callLines = new AsyncLocalStorage<string[]>();

  constructor(
    readonly name: string,
    readonly ctx: SandboxContext,
    private readonly initialState: () => State,
  ) {
    this.state = initialState();
    this.file = ctx.dataDir ? join(ctx.dataDir, `${name}.json`) : undefined;
    if (this.file) {
      mkdirSync(ctx.dataDir!, { recursive: true });
      try {
        const saved = JSON.parse(readFileSync(this.file, 'utf8')) as {
          records: SandboxRecord[];
          state: State;
          seq: number;
        };
        this.records = saved.records;
        this.state = { ...initialState(), ...saved.state };
        this.seq = saved.seq;
      } catch {
        // first start: nothing saved yet
      }
      this.replayJournal();
    }
  }

  /**
   * Records written after the last snapshot: one JSON line each, appended before the partner answers
   * (a kill after the answer loses nothing the hub saw acknowledged). A torn last line is ignored.
   */
  private replayJournal(): void {
    let text: string;
    try {
      text = readFileSync(`${this.file}.journal`, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let rec: SandboxRecord;
      try {
        rec = JSON.parse(line) as SandboxRecord;
      } catch {
        continue;
      }
      if (rec.seq > this.seq) {
        this.records.push(rec);
        this.seq = rec.seq;
      }
    }
  }

  /** Registers a partner route; `:name` segments become `req.params.name`. */
  route(method: string, path: string, handler: SandboxRoute): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_, n: string) => {
        names.push(n);
        return '([^/]+)';
      })}/?$`,
    );
    this.routes.push({ method, pattern, names, handler });
    return this;
  }

  /** Appends to what the sandbox received/created (served by `GET /_records`, in arrival order). */
  record(kind: string, data: Record<string, unknown> = {}): SandboxRecord {
    const rec: SandboxRecord = { seq: ++this.seq, at: this.ctx.clock.now().toISOString(), kind, ...data };
    this.records.push(rec);
    const call = this.callLines.getStore();
    if (call) call.push(`${JSON.stringify(rec)}\n`);
    else if (this.file) appendFileSync(`${this.file}.journal`, `${JSON.stringify(rec)}\n`);
    this.scheduleSnapshot();
    return rec;
  }

  /**
   * Call after mutating `state` so it is persisted: within 20 ms, and before the answer when the
   * change came from a partner call (`handle` writes it first, so a kill after the answer cannot
   * forget an idempotency key or an account the hub was told about).
   */
  changed(): void {
    this.stateDirty = true;
    this.scheduleSnapshot();
  }

  private scheduleSnapshot(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), 20);
  }

  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.stateDirty = false;
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ records: this.records, state: this.state, seq: this.seq }));
    renameSync(tmp, this.file);
    writeFileSync(`${this.file}.journal`, ''); // the snapshot holds every record now
  }

  reset(): void {
    this.records = [];
    this.state = this.initialState();
    this.seq = 0;
    this.flush(); // at once: the journal must not bring the old records back after a kill
  }

  /** Dispatches a request below the mount; undefined when no route matches (the runtime answers 404). */
  async handle(
    req: Omit<SandboxRequest, 'params'>,
    signal?: AbortSignal,
  ): Promise<SandboxResponse | undefined> {
    if (req.path === '/_records') {
      if (req.method === 'GET') return { status: 200, body: this.records };
      if (req.method === 'DELETE') {
        this.reset();
        return { status: 204 };
      }
    }
    if (req.path === '/_faults') {
      if (req.method === 'GET') return { status: 200, body: this.faults };
      if (req.method === 'PUT') {
        const parsed = faultsSchema.safeParse(safeJson(req.text()));
        if (!parsed.success) {
          return {
            status: 400,
            body: {
              error: 'VALIDATION_FAILED',
              message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
            },
          };
        }
        this.faults = parsed.data;
        return { status: 200, body: this.faults };
      }
    }
    for (const route of this.routes) {
      if (route.method !== req.method) continue;
      const m = route.pattern.exec(req.path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
      const fault = await this.injectFault(signal);
      if (fault) return fault;
      const lines: string[] = [];
      try {
        return await this.callLines.run(lines, () => route.handler({ ...req, params }));
      } finally {
        // Durable before the partner answers, records and state at once: a snapshot when the state
        // changed (it holds every record), else the call's records appended to the journal.
        if (this.stateDirty) this.flush();
        else if (this.file && lines.length) appendFileSync(`${this.file}.journal`, lines.join(''));
      }
    }
    return undefined;
  }

  /** Applies the configured faults to one partner call: latency, timeout, 429, error status. */
  async injectFault(signal?: AbortSignal): Promise<SandboxResponse | undefined> {
    const f = this.faults;
    if (f.latencyMs > 0) await sleep(f.latencyMs, signal);
    const r = this.ctx.random;
    if (f.timeoutRate > 0 && r() < f.timeoutRate) {
      await sleep(TIMEOUT_HOLD_MS, signal);
      return { status: 504, body: { message: 'sandbox injected timeout' } };
    }
    if (f.rateLimitRate > 0 && r() < f.rateLimitRate) {
      return {
        status: 429,
        headers: { 'retry-after': '1' },
        body: { message: 'sandbox injected rate limit' },
      };
    }
    if (f.errorRate > 0 && r() < f.errorRate) {
      return { status: f.status, body: { message: `sandbox injected ${f.status}` } };
    }
    return undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Factory signature every sandbox module exports. */
export type SandboxFactory = (ctx: SandboxContext) => Sandbox<object>;
