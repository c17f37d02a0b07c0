import { describe, expect, it } from 'vitest';
import { wiring } from '../../../../infra/wiring.ts';
import { matchesPattern, validatePattern } from '../../../../local/bus/pattern.ts';
import { eventCatalog, eventDefinition, publicEventTypes } from '../../../../shared/events/catalog/index.ts';
import { matchesAny, matchesFilter } from '../../../../shared/webhooks/event-filter.ts';

const rule = wiring.rules.find((r) => r.name === 'webhook-fanout')!;
const envelope = (type: string, source = 'switchboard') => ({
  source,
  'detail-type': type,
  detail: { tenant: 't' },
});

describe('webhook fan-out rule', () => {
  it('is a valid EventBridge pattern targeting the fan-out queue', () => {
    expect(() => validatePattern(rule.pattern)).not.toThrow();
    expect(wiring.queues[rule.queue]!.consumer).toBe('webhook-fanout');
  });

  it('matches every public catalog event and custom events, computed from the catalog', () => {
    for (const type of publicEventTypes())
      expect(matchesPattern(rule.pattern, envelope(type)), type).toBe(true);
    expect(matchesPattern(rule.pattern, envelope('custom.invoice.paid'))).toBe(true);
  });

  it('does not match internal events, other sources or lookalike types', () => {
    const internal = Object.entries(eventCatalog)
      .filter(([, d]) => !d.public)
      .map(([t]) => t);
    expect(internal).toContain('webhook.delivery.exhausted');
    for (const type of internal) expect(matchesPattern(rule.pattern, envelope(type)), type).toBe(false);
    expect(matchesPattern(rule.pattern, envelope('custom.x', 'partner.fake'))).toBe(false);
    expect(matchesPattern(rule.pattern, envelope('customer.created'))).toBe(false);
  });

  it('validates custom events through the catalog family, not by listing them', () => {
    expect(eventDefinition('custom.anything.at_all')?.public).toBe(true);
    expect(eventDefinition('custom.')).toBeUndefined();
    expect(eventDefinition('order.never-heard-of')).toBeUndefined();
  });
});

describe('endpoint event filters', () => {
  it.each([
    ['*', 'order.accepted', true],
    ['order.*', 'order.accepted', true],
    ['order.*', 'order.billing.provisioned', true],
    ['order.*', 'orders.accepted', false],
    ['order.*', 'order', false],
    ['order.accepted', 'order.accepted', true],
    ['order.accepted', 'order.accepted.late', false],
    ['custom.*', 'custom.invoice.paid', true],
  ])('%s selects %s: %s', (filter, type, expected) => {
    expect(matchesFilter(filter, type)).toBe(expected);
  });

  it('matches when any filter matches', () => {
    expect(matchesAny(['zuora.*', 'order.fulfilled'], 'order.fulfilled')).toBe(true);
    expect(matchesAny(['zuora.*'], 'order.fulfilled')).toBe(false);
  });
});
