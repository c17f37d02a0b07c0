import { describe, expect, it } from 'vitest';
import { webhookPayload } from '../../../functions/webhook-fanout/fan-out.ts';
import type { ReceivedEvent } from '../../../shared/events/consumer.ts';

/**
 * Custom events of every tenant reach the all-events endpoints (the platform). Without the publishing
 * tenant in the signed payload, tenant A could publish `custom.invoice.paid` and the platform could
 * not tell it from tenant B's: the hub's signature would vouch for an unattributed claim. Hub events
 * carry their tenant in `data`; custom events carry it next to `data` (the data stays the caller's).
 */
const custom = (tenant: string, data: Record<string, unknown>): ReceivedEvent => ({
  id: 'e1',
  type: 'custom.invoice.paid',
  source: 'switchboard',
  time: '2026-11-23T12:00:00.000Z',
  detail: { tenant, eventId: 'evt_1', occurredAt: '2026-11-23T11:59:00.000Z', data },
});

describe('custom event payloads name the publishing tenant', () => {
  it('puts the tenant (from the token, via the event) in the signed body, data untouched', () => {
    const body = JSON.parse(webhookPayload(custom('mallory', { invoice: 'INV-1', tenant: 'victim' })));
    expect(body).toEqual({
      type: 'custom.invoice.paid',
      timestamp: '2026-11-23T11:59:00.000Z',
      tenant: 'mallory',
      data: { invoice: 'INV-1', tenant: 'victim' },
    });
  });

  it('leaves hub events as they are (their data already carries the tenant)', () => {
    const body = JSON.parse(
      webhookPayload({
        id: 'e2',
        type: 'order.accepted',
        source: 'switchboard',
        time: '2026-11-23T12:00:00.000Z',
        detail: { tenant: 'arrow', orderId: 'ord_1', channelOrderId: 'PO-1', status: 'ACCEPTED' },
      }),
    );
    expect(body).toEqual({
      type: 'order.accepted',
      timestamp: '2026-11-23T12:00:00.000Z',
      data: { tenant: 'arrow', orderId: 'ord_1', channelOrderId: 'PO-1', status: 'ACCEPTED' },
    });
  });
});
