// Structured JSON logs (Powertools Logger) and CloudWatch Embedded Metric Format records.
import { Logger } from '@aws-lambda-powertools/logger';

export const METRICS_NAMESPACE = 'Konstruct';

export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

export type MetricUnit = 'Milliseconds' | 'Count' | 'None';

/**
 * The `_aws` block that makes a JSON log line an EMF record: CloudWatch turns the named top-level
 * fields into metrics, once per dimension set (every other field stays a searchable property).
 */
export function emfMetadata(
  dimensionSets: readonly (readonly string[])[],
  metrics: Record<string, MetricUnit>,
  timestamp = Date.now(),
) {
  return {
    Timestamp: timestamp,
    CloudWatchMetrics: [
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: dimensionSets.map((set) => [...set]),
        Metrics: Object.entries(metrics).map(([Name, Unit]) => ({ Name, Unit })),
      },
    ],
  };
}

/** Powertools' numeric threshold for INFO: a logger whose `level` is above it drops INFO lines. */
const INFO_LEVEL = 12;

function xrayTraceId(): string | undefined {
  const header = process.env._X_AMZN_TRACE_ID;
  return header?.match(/(?:^|;)Root=([^;]+)/)?.[1];
}

/**
 * The per-call records (`complete` writes one per request): the same JSON line as the Powertools
 * Logger prints (`level`, `message`, `timestamp`, `service`, `xray_trace_id`, then the fields), at the
 * logger's level, without its per-line work (a merge of attribute layers and a replacer function
 * called on every key) and without a write per line: lines wait for the end of the event-loop turn
 * and leave in one write, so a request never waits on stdout. In Lambda that write happens before the
 * runtime asks for the next event (its `setImmediate` is queued after ours), so no line is held over.
 */
export class RecordLog {
  #pending: string[] = [];
  /** The ISO time of the last line and the millisecond it is for: several lines a millisecond share it. */
  #isoMs = NaN;
  #iso = '';
  readonly #head: string;

  constructor(
    private readonly logger: Logger,
    private readonly service: string,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {
    this.#head = `,"service":${JSON.stringify(service)}`;
  }

  info(message: string, fields: Record<string, unknown>): void {
    if (this.logger.level > INFO_LEVEL) return;
    const trace = xrayTraceId();
    const now = Date.now();
    if (now !== this.#isoMs) [this.#isoMs, this.#iso] = [now, new Date(now).toISOString()];
    let line: string;
    if ('level' in fields || 'message' in fields || 'timestamp' in fields || 'service' in fields) {
      // A field named like a header field wins, as in a spread: the rare slow way.
      line = JSON.stringify({
        level: 'INFO',
        message,
        timestamp: this.#iso,
        service: this.service,
        ...(trace && { xray_trace_id: trace }),
        ...fields,
      });
    } else {
      // The same line without a merged copy of every record: the fields' JSON follows the header fields.
      const rest = JSON.stringify(fields);
      line = `{"level":"INFO","message":${JSON.stringify(message)},"timestamp":"${this.#iso}"${this.#head}${
        trace ? `,"xray_trace_id":${JSON.stringify(trace)}` : ''
      }${rest.length > 2 ? `,${rest.slice(1)}` : '}'}`;
    }
    if (this.#pending.push(line) === 1) setImmediate(this.flush);
  }

  /** Writes the lines still waiting; also called on shutdown. */
  readonly flush = (): void => {
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    this.out.write(text);
  };
}
