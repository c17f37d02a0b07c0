import type { SaashopEventRecord, SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';

/**
 * Marketplace events that did not become an order, for operators: SaaShop events the poller stored
 * FAILED (unknown product, missing buyer address, unsupported currency, retries exhausted…),
 * UNSUPPORTED (a type the seed defines no payload for), or still PENDING. SaaShop was told
 * `ProvisioningFailed` with the reason; this is where a person picks them up.
 *
 * The raw event and order answer stay in the table (they hold the buyer's data); a row says what
 * happened, why, and which hub order or SaaShop order it concerns.
 */
export interface OpsMarketplaceDeps {
  saashopEvents: Pick<SaashopEventRepository, 'listByStatus'>;
}

const saashopEventRow = (r: SaashopEventRecord) => ({
  channel: 'saashop' as const,
  eventId: r.eventId,
  status: r.status,
  ...(r.eventTypeCode ? { eventTypeCode: r.eventTypeCode } : {}),
  ...(r.saashopOrderId ? { saashopOrderId: r.saashopOrderId } : {}),
  ...(r.code ? { code: r.code } : {}),
  ...(r.reason ? { reason: r.reason } : {}),
  ...(r.lastError ? { lastError: r.lastError } : {}),
  attempts: r.attempts,
  ...(r.hubOrderId ? { hubOrderId: r.hubOrderId } : {}),
  reported: Boolean(r.announcedAt),
  ...(r.closedAt ? { closedAt: r.closedAt, closeNote: r.closeNote } : {}),
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** One page of SaaShop events in a status, newest first. */
export async function listSaashopEvents(
  q: { status: SaashopEventRecord['status']; limit: number; cursor?: string },
  deps: OpsMarketplaceDeps,
) {
  const page = await deps.saashopEvents.listByStatus(q.status, {
    limit: q.limit,
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return { items: page.events.map(saashopEventRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
}
