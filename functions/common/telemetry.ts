// Structured JSON logs (Powertools Logger) and CloudWatch Embedded Metric Format records.
import { Logger } from '@aws-lambda-powertools/logger';

export const METRICS_NAMESPACE = 'Konstruct';

export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

export type MetricUnit = 'Milliseconds' | 'Count' | 'None';

/**
 * The `_aws` block that makes a JSON log line an EMF record: CloudWatch turns the named top-level
 * fields into metrics with exactly `dimensions` (every other field stays a searchable property).
 */
export function emfMetadata(dimensions: readonly string[], metrics: Record<string, MetricUnit>, timestamp = Date.now()) {
  return {
    Timestamp: timestamp,
    CloudWatchMetrics: [
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [dimensions],
        Metrics: Object.entries(metrics).map(([Name, Unit]) => ({ Name, Unit })),
      },
    ],
  };
}
