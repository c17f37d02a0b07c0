import type { Clock } from '../../../shared/clock.ts';
import type { HubEvent, Publisher } from '../../../shared/events/publisher.ts';
import type { OrderRequest } from '../../../shared/orders/contract.ts';
import {
  type ScreeningOutcome,
  type ScreeningProvider,
  ScreeningUnavailableError,
} from '../../../shared/screening/provider.ts';

/** Shared fakes of the order tests (no module mocking: the use cases take these as deps). */
export function validOrder(overrides: Partial<OrderRequest> = {}): OrderRequest {
  return {
    channelOrderId: `ARW-${Math.random().toString(36).slice(2, 10)}`,
    orderType: 'Purchase',
    currency: 'EUR',
    sellTo: {
      company: 'Müller Maschinenbau GmbH',
      contact: { firstName: 'Anna', lastName: 'Müller', email: 'anna@mueller.example' },
      address: { line1: 'Hauptstraße 1', city: 'Stuttgart', postalCode: '70173', country: 'DE' },
    },
    partner: {
      name: 'Reseller Ltd',
      contact: { firstName: 'Rob', lastName: 'Reseller', email: 'rob@reseller.example' },
    },
    lines: [{ productCode: 'SB-PRO', quantity: 10, unit: 'seat', termMonths: 12 }],
    ...overrides,
  };
}

export class FakePublisher implements Publisher {
  events: HubEvent[] = [];
  failNext = 0;
  async publish(events: HubEvent[]) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('bus down');
    }
    this.events.push(...events);
  }
  types() {
    return this.events.map((e) => e.type);
  }
}

export class FakeScreening implements ScreeningProvider {
  calls = 0;
  constructor(public outcome: ScreeningOutcome | 'down' | 'slow' = 'clear') {}
  async screen(_party: unknown, options?: { signal?: AbortSignal }) {
    this.calls++;
    if (this.outcome === 'down') throw new ScreeningUnavailableError('screening sandbox answered 503');
    if (this.outcome === 'slow') {
      await new Promise((resolve) => options?.signal?.addEventListener('abort', resolve));
      throw new ScreeningUnavailableError('aborted');
    }
    return {
      outcome: this.outcome,
      evidence:
        this.outcome === 'clear'
          ? []
          : [
              {
                list: 'Demo List',
                entryId: 'demo-1',
                entryName: 'Bad Co',
                matchedName: 'Bad Co',
                score: 0.97,
                countries: ['RU'],
                reason: 'name score 0.97',
              },
            ],
      provider: 'csl' as const,
      screenedAt: new Date().toISOString(),
    };
  }
}

export class ManualClock implements Clock {
  constructor(public ms = Date.parse('2026-01-05T10:00:00Z')) {}
  now() {
    return new Date(this.ms);
  }
  advance(seconds: number) {
    this.ms += seconds * 1000;
  }
}
