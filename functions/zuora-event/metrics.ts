import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics as sharedMetrics } from '../../shared/telemetry.ts';
import type { EventObservation } from './receive-event.ts';

/**
 * CloudWatch metrics (EMF through Powertools) for each Zuora request: one count per item outcome
 * and the latency, both by event type. Account and subscription numbers go to the log line, not to
 * dimensions (unbounded cardinality).
 */
export function metricsRecorder(metrics: Metrics = sharedMetrics()) {
  return (o: EventObservation): void => {
    for (const outcome of new Set(o.outcomes)) {
      const single = metrics.singleMetric();
      single.addDimensions({ typeEvent: o.typeEvent, outcome });
      single.addMetric('ZuoraEventItems', MetricUnit.Count, o.outcomes.filter((x) => x === outcome).length);
    }
    const latency = metrics.singleMetric();
    latency.addDimensions({ typeEvent: o.typeEvent, status: String(o.statusCode) });
    latency.addMetric('ZuoraEventLatency', MetricUnit.Milliseconds, o.latencyMs);
  };
}
