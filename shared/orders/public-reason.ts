import type { HistoryEntry, Order, StoredEvent } from '../db/entities/orders.ts';
import { PermanentError } from '../errors.ts';
import { redactText } from '../redact.ts';

/**
 * What each audience sees of why an order stopped. Channels (the order API, `order.*` events and
 * webhooks) see outcomes: a stable code and a fixed sentence. Operators (ops API and console) see the
 * evidence: screening list, entry and score, and the partner's own text (redacted). Partner error text
 * can quote the field values it refused (a buyer's name or address), so it never reaches a channel.
 */

/** Why an order failed permanently: a stable code, a fixed sentence, and the operators' detail. */
export interface OrderFailure {
  /** Stable and channel-facing: `ZUORA_REJECTED`, `SALESFORCE_REJECTED`, `UNKNOWN_PRODUCT`, … */
  code: string;
  /** The partner's own error code (Zuora reason code, Salesforce `errorCode`), when it gave one. */
  partnerCode?: string;
  /** A fixed sentence, safe for channels (never partner text). */
  message: string;
  /** The full text (partner's included), redacted; operators only. */
  detail?: string;
}

const SAFE_MESSAGES: Record<string, string> = {
  ZUORA_REJECTED: 'Zuora rejected the billing request for this order; an operator has the details.',
  SALESFORCE_REJECTED: 'Salesforce rejected the CRM update for this order; an operator has the details.',
  MAIL_REJECTED: 'The licence e-mail could not be sent; an operator has the details.',
  UNKNOWN_PRODUCT: 'A product of this order is not in the catalogue.',
};

/** Our internal error codes renamed for channels (`*_REFUSED` from the clients → `*_REJECTED`). */
const CHANNEL_CODES: Record<string, string> = {
  ZUORA_REFUSED: 'ZUORA_REJECTED',
  SALESFORCE_REFUSED: 'SALESFORCE_REJECTED',
  MAIL_REFUSED: 'MAIL_REJECTED',
};

const STAGE_CODES: Record<string, string> = {
  billing: 'BILLING_FAILED',
  crm: 'CRM_FAILED',
  licence: 'LICENCE_FAILED',
};

/** The failure of `stage` caused by `error`: code and fixed sentence for channels, text for operators. */
export function orderFailure(stage: string, error: unknown): OrderFailure {
  const raw = error instanceof PermanentError ? error.code : undefined;
  const code = (raw && (CHANNEL_CODES[raw] ?? (SAFE_MESSAGES[raw] ? raw : undefined))) ?? stageCode(stage);
  const partnerCode = error instanceof PermanentError ? error.partnerCode : undefined;
  const text = error instanceof Error ? error.message : String(error);
  return {
    code,
    ...(partnerCode ? { partnerCode: safeToken(partnerCode) } : {}),
    message: safeMessage(code, stage),
    detail: redactText(text).slice(0, 1000),
  };
}

const stageCode = (stage: string) => STAGE_CODES[stage] ?? 'ORDER_FAILED';
const safeMessage = (code: string, stage: string) =>
  SAFE_MESSAGES[code] ?? `The order failed permanently at the ${stage} step; an operator has the details.`;
/** A partner code is a short token (`53100020`, `REQUIRED_FIELD_MISSING`); anything else is dropped. */
const safeToken = (code: string) => (/^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : 'UNKNOWN');

/** The channel-facing reason of a failure: `CODE (partner code): sentence`. */
export function failureReason(f: Pick<OrderFailure, 'code' | 'partnerCode' | 'message'>): string {
  return `${f.code}${f.partnerCode ? ` (${f.partnerCode})` : ''}: ${f.message}`;
}

/** Channel-facing reasons of a screening outcome: no list, entry, name or score. */
export const SCREENING_REVIEW_REASON =
  'POSSIBLE_RESTRICTED_PARTY: the buyer may match a restricted-party list; an operator will review the order.';
export const SCREENING_BLOCKED_REASON = 'RESTRICTED_PARTY: the buyer matches a restricted-party list.';

/** The order's error as a channel sees it: stage, code and fixed sentence (stored before codes: generic). */
export function channelError(error: NonNullable<Order['error']>) {
  const code = error.code ?? stageCode(error.stage);
  return {
    stage: error.stage,
    code,
    ...(error.partnerCode ? { partnerCode: error.partnerCode } : {}),
    reason: error.code ? error.reason : safeMessage(code, error.stage),
  };
}

/**
 * One history entry as a channel sees it. Screening reasons lose their evidence, failures their
 * partner text; other reasons (operators' decisions, cancellations) are kept. Entries stored before
 * this rule are rewritten the same way.
 */
export function channelHistoryEntry(entry: HistoryEntry, order: Pick<Order, 'error'>): HistoryEntry {
  if (!entry.reason) return entry;
  const { reason } = entry;
  let out = reason;
  if (entry.status === 'NEEDS_REVIEW') out = SCREENING_REVIEW_REASON;
  else if (entry.status === 'REJECTED' && /^RESTRICTED_PARTY\b/.test(reason)) out = SCREENING_BLOCKED_REASON;
  else if (entry.status === 'ERROR') {
    const e = order.error ? channelError(order.error) : undefined;
    out = e ? failureReason({ ...e, message: e.reason }) : 'ORDER_FAILED';
  }
  return { ...entry, reason: out };
}

/**
 * A stored order event as channels may see it. Events recorded before this rule (re-published by the
 * reconciler) can carry screening evidence or partner text in `reason`; they are rewritten like the
 * history. Events already in the channel form are returned unchanged.
 */
export function channelEvent(event: StoredEvent, order: Pick<Order, 'error'>): StoredEvent {
  const status = event.detail.status;
  if (typeof event.detail.reason !== 'string' || typeof status !== 'string') return event;
  if (status === 'ERROR' && typeof event.detail.code === 'string') return event;
  const entry = channelHistoryEntry(
    { at: '', status: status as HistoryEntry['status'], reason: event.detail.reason },
    order,
  );
  const code = status === 'ERROR' && order.error ? channelError(order.error).code : undefined;
  return { ...event, detail: { ...event.detail, ...(code ? { code } : {}), reason: entry.reason } };
}
