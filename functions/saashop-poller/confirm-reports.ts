import type { SaashopStatusCode } from '../../shared/clients/saashop.ts';
import type { SaashopEventRecord } from '../../shared/db/entities/saashop-events.ts';
import { logger } from '../../shared/logger.ts';
import { TERMINAL_STATUSES } from '../../shared/orders/contract.ts';
import { owedReports } from '../../shared/saashop/owed-reports.ts';
import type { PollDeps } from './poll.ts';

/**
 * Publishes a failure for the SaaShop report (`saashop.event.failed`); the record stays due so the
 * report itself is confirmed later (see {@link confirmReports}).
 */
export async function announceRecord(record: SaashopEventRecord, deps: PollDeps): Promise<boolean> {
  if (record.status !== 'FAILED' && record.status !== 'UNSUPPORTED') return false;
  await deps.publisher.publish([failedEvent(record, deps.settings.tenant)]);
  const checkAt = new Date(deps.clock.now().getTime() + deps.settings.reportCheckMs);
  return deps.events.markAnnounced(record.eventId, deps.clock.now(), checkAt);
}

const failedEvent = (record: SaashopEventRecord, tenant: string) => ({
  type: 'saashop.event.failed',
  detail: {
    tenant,
    eventId: record.eventId,
    ...(record.saashopOrderId ? { saashopOrderId: record.saashopOrderId } : {}),
    ...(record.eventTypeCode ? { eventTypeCode: record.eventTypeCode } : {}),
    status: record.status,
    code: record.code ?? 'FAILED',
  },
});

/**
 * The safety net behind the notifier's queue: confirms that SaaShop was sent every status the event
 * is owed (its order's, or the failure's). A report never claimed (a message lost or dead-lettered)
 * is requested again on the bus; the record closes once its order is final and every report is
 * sent (or refused for good), or after `maxReportChecks` confirmations with backoff.
 */
export async function confirmReports(
  record: SaashopEventRecord,
  deps: PollDeps,
): Promise<'confirmed' | 'requested' | 'waiting' | 'closed'> {
  const { settings } = deps;
  const now = deps.clock.now();
  let owed: SaashopStatusCode[] = ['ProvisioningFailed'];
  let final = true;
  let subject = `EVENT#${record.eventId}`;
  if (record.status === 'SUBMITTED') {
    const order = record.hubOrderId ? await deps.orders.get(record.hubOrderId) : undefined;
    owed = order ? owedReports(order) : [];
    final = order ? TERMINAL_STATUSES.has(order.status) : false;
    subject = record.hubOrderId ?? subject;
  }
  const done = new Set(
    (await deps.reports.listFor(subject)).filter((r) => r.state !== 'SENDING').map((r) => r.statusCode),
  );
  const missing = owed.filter((s) => !done.has(s));
  if (final && missing.length === 0) {
    await deps.events.close(record, 'status reports confirmed', now);
    return 'confirmed';
  }
  const checks = record.reportChecks ?? 0;
  if (checks >= settings.maxReportChecks) {
    const log = final ? logger.error : logger.warn;
    log.call(logger, 'saashop status reports no longer watched', {
      eventId: record.eventId,
      missing: missing.join(','),
      final,
    });
    await deps.events.close(
      record,
      final ? `reports never confirmed: ${missing.join(', ')}` : 'no final status yet',
      now,
    );
    return 'closed';
  }
  if (missing.length > 0) {
    await deps.publisher.publish([
      record.status === 'SUBMITTED' && record.hubOrderId
        ? {
            type: 'saashop.report.requested',
            detail: { tenant: settings.tenant, orderId: record.hubOrderId },
          }
        : failedEvent(record, settings.tenant),
    ]);
  }
  const delay = Math.min(settings.reportCheckMs * 2 ** (checks + 1), 86_400_000);
  await deps.events.recheck(record, new Date(now.getTime() + delay));
  return missing.length > 0 ? 'requested' : 'waiting';
}
