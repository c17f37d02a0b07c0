import type * as z from 'zod';

/**
 * Types of the wiring manifest (`infra/wiring.ts`). The manifest is data only: the CDK stateless
 * stack and the local runtime both interpret it, so routes, rules, queues and schedules are declared
 * exactly once.
 */

/** A resource a function uses. Each use becomes one env var plus one least-privilege grant. */
export type ResourceUse =
  | { kind: 'table'; access: 'read' | 'readWrite' } // TABLE_NAME
  | { kind: 'bus' } // EVENT_BUS_NAME, events:PutEvents on the hub bus only
  | { kind: 'authVerify' } // AUTH_JWKS_URL (published key set, no grant)
  | { kind: 'secret'; name: SecretName; access: 'read' | 'readWrite' } // SECRET_<NAME>_ARN
  | { kind: 'queue'; name: string; access: 'send' } // QUEUE_<NAME>_URL
  | { kind: 'mail' } // MAIL_FROM, ses:SendEmail on the sender identity
  | { kind: 'partner'; name: PartnerName } // <NAME>_BASE_URL, plus its credentials secret (read)
  | { kind: 'console' } // CONSOLE_ORIGINS: origins of the operator console (sign-in redirects, CORS)
  | { kind: 'deadLetters' } // DEAD_LETTER_QUEUES
  | { kind: 'kmsKey'; name: KmsKeyName; access: 'encrypt' | 'decrypt' }; // KMS_<NAME>_KEY_ARN, GenerateDataKey or Decrypt // DEAD_LETTER_QUEUES (JSON: name, url, arn, source arn of every DLQ); depth, peek, redrive

export type SecretName =
  | 'auth-signing-key'
  | 'zuora-credentials'
  | 'salesforce-credentials'
  | 'saashop-credentials'
  | 'appdirect-credentials'
  | 'screening-credentials'
  | 'licence-signing-key'
  | 'webhook-secrets-key';

/** Customer-managed KMS keys (stateful stack, rotation enabled). */
export type KmsKeyName = 'webhook-secrets';

export type PartnerName = 'zuora' | 'salesforce' | 'saashop' | 'appdirect' | 'screening';

export interface FunctionSpec {
  description: string;
  /** Path of the handler module, relative to the repository root; its export is `handler`. */
  entry: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** Reserved concurrency for integration functions, so a burst cannot starve the API. */
  reservedConcurrency?: number;
  uses: ResourceUse[];
  /** Extra plain (non-secret) environment variables. */
  environment?: Record<string, string>;
}

/** `authorization_code`: operator sign-in (PKCE S256) of the operations console, its client only. */
export type OAuthGrant = 'client_credentials' | 'password' | 'authorization_code';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  /** API Gateway path template, e.g. `/v1/orders/{orderId}`. */
  path: string;
  function: string;
  /** `none`: public; `jwt`: bearer token from `/oauth/token` carrying every scope in `scopes`. */
  auth: 'none' | 'jwt';
  /**
   * The OAuth grants whose tokens callers of this `jwt` route are expected to hold (OpenAPI security,
   * one alternative each): default `client_credentials`. The token carries no grant; the verifier
   * checks scopes only.
   */
  grants?: OAuthGrant[];
  scopes: string[];
  summary: string;
  /** Steady-state requests per second and burst for this route (API Gateway route throttling). */
  throttle?: { rateLimit: number; burstLimit: number };
  /** For the OpenAPI document. */
  request?: { body?: z.ZodType; query?: z.ZodType; contentTypes?: string[] };
  responses?: Record<number, ResponseSpec>;
  /**
   * Body of the route's 4xx/5xx answers (OpenAPI) when a response names none: the hub's `Error` by
   * default; partner contracts with their own error shape (RFC 6749, Zuora KO, AppDirect) set theirs.
   */
  errorBody?: z.ZodType;
  /** Folder under `events/api/` with this route's request samples (default: derived from a POST path). */
  samples?: string;
}

export interface ResponseSpec {
  description: string;
  body?: z.ZodType;
  /** Media types of the answer (default JSON); `text/html` is a page (the operator sign-in). */
  mediaTypes?: Array<'application/json' | 'text/html'>;
}

/** What a handler needs of its routes at run time: the key and the auth facts (no schemas, no docs). */
export type RouteAuth = Pick<RouteSpec, 'method' | 'path' | 'auth' | 'scopes'>;

export interface QueueSpec {
  /** Function that consumes the queue through an SQS event source mapping. */
  consumer: string;
  /** Must be at least six times the consumer's timeout (AWS guidance); checked by a test. */
  visibilityTimeoutSeconds: number;
  /** Receives before the message is moved to the queue's DLQ. */
  maxReceiveCount: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Cap on concurrent consumer invocations (SQS event source `maximumConcurrency`, ≥ 2). */
  maxConcurrency: number;
  /**
   * Alarm when the oldest message has waited this long (default: the larger of 15 minutes and twice
   * the visibility timeout). Raise it for queues whose messages are delayed on purpose.
   */
  oldestMessageAlarmSeconds?: number;
}

/** EventBridge event pattern (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html). */
export type EventPattern = { [field: string]: unknown };

export interface RuleSpec {
  name: string;
  description: string;
  pattern: EventPattern;
  /** Every rule target is delivered through its own queue (a key of `queues`). */
  queue: string;
}

export interface ScheduleSpec {
  name: string;
  description: string;
  /** EventBridge Scheduler expression: `rate(5 minutes)` or `cron(0 17 * * ? *)` (UTC). */
  expression: string;
  function: string;
  /** Input passed to the function; Scheduler context keywords are substituted. */
  input?: Record<string, unknown>;
}

export interface SecretSpec {
  description: string;
}

export interface Wiring {
  functions: Record<string, FunctionSpec>;
  routes: RouteSpec[];
  queues: Record<string, QueueSpec>;
  rules: RuleSpec[];
  schedules: ScheduleSpec[];
  secrets: Partial<Record<SecretName, SecretSpec>>;
}

/** `POST /v1/orders/{orderId}` → the API Gateway route key. */
export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** Env var names derived from uses, shared by CDK and the local runtime. */
export const envName = {
  secretArn: (name: SecretName) => `SECRET_${name.toUpperCase().replace(/-/g, '_')}_ARN`,
  queueUrl: (name: string) => `QUEUE_${name.toUpperCase().replace(/-/g, '_')}_URL`,
  partnerBaseUrl: (name: PartnerName) => `${name.toUpperCase()}_BASE_URL`,
  kmsKeyArn: (name: KmsKeyName) => `KMS_${name.toUpperCase().replace(/-/g, '_')}_KEY_ARN`,
};

/** Secret holding a partner's credentials. */
export const partnerSecret = (name: PartnerName): SecretName => `${name}-credentials` as SecretName;

/** One capability's slice of the manifest; `infra/wiring.ts` merges the slices. */
export type WiringPart = Partial<Wiring>;
