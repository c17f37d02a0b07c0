import type { PutEventsCommand, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { TransientError } from '../../../shared/errors.ts';
import type { EventDefinition } from '../../../shared/events/catalog/index.ts';
import { createPublisher, UnknownEventTypeError } from '../../../shared/events/publisher.ts';

const catalog: Record<string, EventDefinition> = {
  'thing.happened': {
    schema: z.object({ tenant: z.string(), n: z.number() }),
    public: true,
    description: 'test',
  },
};

/** A fake EventBridge that fails the entries whose `n` is in `failing` for the first `times` calls. */
function fakeBus(failing: Set<number>, times: number) {
  const calls: Array<Array<{ Detail?: string }>> = [];
  return {
    calls,
    client: {
      send: async (command: PutEventsCommand) => {
        const entries = command.input.Entries ?? [];
        calls.push(entries);
        const fail = calls.length <= times;
        const results = entries.map((e) =>
          fail && failing.has((JSON.parse(e.Detail!) as { n: number }).n)
            ? { ErrorCode: 'InternalFailure', ErrorMessage: 'x' }
            : { EventId: crypto.randomUUID() },
        );
        return {
          FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
          Entries: results,
        } as PutEventsCommandOutput;
      },
    },
  };
}

const events = (count: number) =>
  Array.from({ length: count }, (_, n) => ({ type: 'thing.happened', detail: { tenant: 't', n } }));

describe('publisher', () => {
  it('sends at most ten entries per call and resends only the failed ones', async () => {
    const bus = fakeBus(new Set([3, 12]), 1);
    const publisher = createPublisher({
      busName: 'b',
      client: bus.client as never,
      definitionOf: (t) => catalog[t],
      sleep: async () => {},
    });
    await publisher.publish(events(15));
    expect(bus.calls.map((c) => c.length)).toEqual([10, 1, 5]);
    expect(JSON.parse(bus.calls[1]![0]!.Detail!).n).toBe(3);
    // the retry of the second batch succeeded at the first attempt because `times` was 1
  });
  it('throws a TransientError when entries keep failing, so the caller retries', async () => {
    const bus = fakeBus(new Set([0]), 100);
    const publisher = createPublisher({
      busName: 'b',
      client: bus.client as never,
      definitionOf: (t) => catalog[t],
      sleep: async () => {},
    });
    await expect(publisher.publish(events(2))).rejects.toBeInstanceOf(TransientError);
    expect(bus.calls.length).toBe(4);
  });
  it('refuses unknown types and details that break their schema before sending anything', async () => {
    const bus = fakeBus(new Set(), 0);
    const publisher = createPublisher({
      busName: 'b',
      client: bus.client as never,
      definitionOf: (t) => catalog[t],
    });
    await expect(publisher.publish([{ type: 'nope', detail: { tenant: 't' } }])).rejects.toBeInstanceOf(
      UnknownEventTypeError,
    );
    await expect(
      publisher.publish([{ type: 'thing.happened', detail: { tenant: 't', n: 'x' } as never }]),
    ).rejects.toThrow(/n:/);
    expect(bus.calls.length).toBe(0);
  });
});
