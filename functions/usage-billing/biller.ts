import type { Submission } from '../../shared/db/entities/usage-billing.ts';

/** What a biller says about one submission. */
export type DeliveryOutcome =
  | { status: 'delivered' }
  /** Accepted but not processed yet (Zuora import still running): resume on a later run. */
  | { status: 'pending' }
  /** Refused as a whole (nothing was billed): release the groups and retry with backoff. */
  | { status: 'failed'; reason: string };

/** Writes the use case lets an adapter make on the submission item before and after uploading. */
export interface DeliveryHooks {
  /** Called right BEFORE every upload attempt (the attempt is recorded first: crash-safe). */
  beforeUpload(): Promise<void>;
  /** Called as soon as the biller names the submission (Zuora import id, AppDirect request id). */
  recordRemoteId(remoteId: string): Promise<void>;
}

/**
 * One biller (Zuora usage import, AppDirect Billing Usage V2). `deliver` must be safe to call again
 * for the same submission after a crash at any line: it checks what the biller already has before
 * uploading. A TransientError means "outcome unknown, try again later".
 */
export interface BillerAdapter {
  /** Largest number of lines one submission may carry for this biller. */
  readonly maxLines: number;
  deliver(submission: Submission, hooks: DeliveryHooks): Promise<DeliveryOutcome>;
}
