import * as z from 'zod';
import type { PartnerName } from './wiring-types.ts';

/**
 * Per-stage settings of the CDK app. The stage comes from context (`-c stage=prod`, default `dev`
 * in `cdk.json`); a few values can be overridden from context too (`account`, `region`,
 * `alarmEmail`, `mailFrom`, `mailIdentity`, `<partner>BaseUrl`). Everything is validated with zod
 * so a typo fails `cdk synth` with a sentence naming the field, not a half-deployed stack.
 */

export const deployStageSchema = z.enum(['dev', 'staging', 'prod']);
export type DeployStage = z.infer<typeof deployStageSchema>;

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const throttleSchema = z.object({
  rateLimit: z.number().positive(),
  burstLimit: z.number().int().positive(),
});

const partnerUrlsSchema = z.object({
  zuora: z.url({ protocol: /^https$/ }),
  salesforce: z.url({ protocol: /^https$/ }),
  saashop: z.url({ protocol: /^https$/ }),
  appdirect: z.url({ protocol: /^https$/ }),
  screening: z.url({ protocol: /^https$/ }),
}) satisfies z.ZodType<Record<PartnerName, string>>;

export const stageConfigSchema = z.object({
  stage: deployStageSchema,
  /** Target account/region; when absent the stacks are environment-agnostic (CLI credentials decide). */
  account: z
    .string()
    .regex(/^\d{12}$/, 'account must be a 12-digit AWS account id')
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'region must look like eu-west-1')
    .optional(),
  logRetentionDays: z
    .number()
    .int()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    }),
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']),
  /** Alarm notifications go to this address (an SNS e-mail subscription) when set. */
  alarmEmail: z.email().optional(),
  /** `From` of the licence e-mails; its identity must be verified in SES. */
  mailFrom: z.email(),
  /** SES identity (domain or address) the functions may send as: `ses:SendEmail` is granted on it only. */
  mailIdentity: z.string().min(3),
  partnerBaseUrls: partnerUrlsSchema,
  /** `retain` keeps the table (and log groups) when the stack is deleted. */
  removalPolicy: z.enum(['retain', 'destroy']),
  deletionProtection: z.boolean(),
  /** Event bus archive retention, for replays. */
  archiveRetentionDays: z.number().int().min(1).max(3650),
  /** API stage default throttling; routes with their own `throttle` in the manifest override it. */
  apiThrottle: throttleSchema,
  /**
   * Reserved concurrency: when disabled the manifest's `reservedConcurrency` is ignored (small dev
   * accounts have an unreserved minimum of 100 that reservations could break); otherwise it is
   * capped at `cap` per function.
   */
  reservedConcurrency: z.object({ enabled: z.boolean(), cap: z.number().int().min(1) }),
  auth: z.object({ issuer: z.string().min(1), audience: z.string().min(1) }),
  /**
   * Days between rotations of the token signing key set (Secrets Manager rotation schedule). At least
   * a day, so a rotated-out key has outlived every token it signed (tokens live at most an hour).
   */
  signingKeyRotationDays: z.coerce.number().int().min(1).max(365),
});
export type StageConfig = z.infer<typeof stageConfigSchema>;

const devPartners = {
  zuora: 'https://rest.apisandbox.zuora.com',
  salesforce: 'https://test.salesforce.com',
  saashop: 'https://test-api.saashop.com',
  appdirect: 'https://marketplace.appdirect.com',
  screening: 'https://data.trade.gov/consolidated_screening_list/v1',
};

const prodPartners = {
  zuora: 'https://rest.zuora.com',
  salesforce: 'https://login.salesforce.com',
  saashop: 'https://api.saashop.com',
  appdirect: 'https://marketplace.appdirect.com',
  screening: 'https://data.trade.gov/consolidated_screening_list/v1',
};

const auth = { issuer: 'switchboard', audience: 'switchboard-api' };

/** Defaults per stage; context overrides are applied on top and the result validated. */
export const stageDefaults: Record<DeployStage, Omit<StageConfig, 'stage'>> = {
  dev: {
    logRetentionDays: 14,
    logLevel: 'DEBUG',
    mailFrom: 'no-reply@dev.switchboard.example.com',
    mailIdentity: 'dev.switchboard.example.com',
    partnerBaseUrls: devPartners,
    removalPolicy: 'destroy',
    deletionProtection: false,
    archiveRetentionDays: 7,
    apiThrottle: { rateLimit: 50, burstLimit: 100 },
    reservedConcurrency: { enabled: false, cap: 5 },
    auth,
    signingKeyRotationDays: 30,
  },
  staging: {
    logRetentionDays: 30,
    logLevel: 'INFO',
    mailFrom: 'no-reply@staging.switchboard.example.com',
    mailIdentity: 'staging.switchboard.example.com',
    partnerBaseUrls: devPartners,
    removalPolicy: 'destroy',
    deletionProtection: false,
    archiveRetentionDays: 30,
    apiThrottle: { rateLimit: 200, burstLimit: 400 },
    reservedConcurrency: { enabled: true, cap: 20 },
    auth,
    signingKeyRotationDays: 30,
  },
  prod: {
    logRetentionDays: 365,
    logLevel: 'INFO',
    mailFrom: 'no-reply@switchboard.example.com',
    mailIdentity: 'switchboard.example.com',
    partnerBaseUrls: prodPartners,
    removalPolicy: 'retain',
    deletionProtection: true,
    archiveRetentionDays: 365,
    apiThrottle: { rateLimit: 1000, burstLimit: 2000 },
    reservedConcurrency: { enabled: true, cap: 100 },
    auth,
    signingKeyRotationDays: 30,
  },
};

/** Reads a context value (`-c key=value` or `cdk.json`). */
export type ContextReader = (key: string) => unknown;

/** Context keys that override a stage default, with the path they set. */
const OVERRIDES = [
  'account',
  'region',
  'alarmEmail',
  'mailFrom',
  'mailIdentity',
  'logLevel',
  'signingKeyRotationDays',
] as const;

/**
 * Builds and validates the stage configuration from CDK context. Throws an `Error` whose message
 * starts with `Invalid stage configuration` and lists every problem.
 */
export function loadStageConfig(context: ContextReader, env: NodeJS.ProcessEnv = process.env): StageConfig {
  const rawStage = context('stage') ?? 'dev';
  const stage = deployStageSchema.safeParse(rawStage);
  if (!stage.success) {
    throw new Error(
      `Invalid stage configuration: stage "${String(rawStage)}" is not one of dev, staging, prod (pass -c stage=dev|staging|prod)`,
    );
  }
  const candidate: Record<string, unknown> = {
    ...structuredClone(stageDefaults[stage.data]),
    stage: stage.data,
    account: env.CDK_DEFAULT_ACCOUNT,
    region: env.CDK_DEFAULT_REGION,
  };
  for (const key of OVERRIDES) {
    const value = context(key);
    if (value !== undefined) candidate[key] = value;
  }
  const partners = candidate.partnerBaseUrls as Record<string, unknown>;
  for (const partner of Object.keys(partners)) {
    const value = context(`${partner}BaseUrl`);
    if (value !== undefined) partners[partner] = value;
  }
  return parseStageConfig(candidate);
}

/** Validates a complete configuration object (also used by tests to prove bad values fail). */
export function parseStageConfig(candidate: unknown): StageConfig {
  const result = stageConfigSchema.safeParse(candidate);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new Error(`Invalid stage configuration: ${problems.join('; ')}`);
  }
  return result.data;
}
