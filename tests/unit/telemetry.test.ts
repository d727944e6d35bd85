// The per-call record writer: Powertools-shaped lines, batched per event-loop turn, at the logger's level.
import { Writable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordLog } from '../../functions/common/telemetry.ts';

function sink() {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, writes };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('RecordLog (the per-call cost records)', () => {
  const traceBefore = process.env._X_AMZN_TRACE_ID;
  afterEach(() => {
    if (traceBefore === undefined) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = traceBefore;
  });

  it('writes the lines of one event-loop turn in one write, after the caller has moved on', async () => {
    const { stream, writes } = sink();
    const log = new RecordLog(new Logger({ serviceName: 'complete', logLevel: 'INFO' }), 'complete', stream);
    log.info('completion', { tenant_id: 'a', Calls: 1 });
    log.info('completion', { tenant_id: 'b', Calls: 1 });
    log.info('completion', { tenant_id: 'c', Calls: 1 });
    expect(writes).toHaveLength(0);
    await nextTurn();
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split('\n');
    expect(lines.at(-1)).toBe(''); // newline-terminated
    const records = lines.slice(0, -1).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => r.tenant_id)).toEqual(['a', 'b', 'c']);
    for (const record of records) {
      expect(record).toMatchObject({ level: 'INFO', message: 'completion', service: 'complete', Calls: 1 });
      expect(new Date(record.timestamp as string).toISOString()).toBe(record.timestamp);
    }
    log.info('completion', { tenant_id: 'd' });
    await nextTurn();
    expect(writes).toHaveLength(2); // a later turn gets its own write
  });

  it('prints nothing when the logger level is above INFO', async () => {
    const { stream, writes } = sink();
    const log = new RecordLog(new Logger({ serviceName: 'complete', logLevel: 'WARN' }), 'complete', stream);
    log.info('completion', { tenant_id: 'a' });
    await nextTurn();
    log.flush();
    expect(writes).toEqual([]);
  });

  it('carries the X-Ray trace id as Powertools does', async () => {
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const { stream, writes } = sink();
    const log = new RecordLog(new Logger({ serviceName: 'complete', logLevel: 'INFO' }), 'complete', stream);
    log.info('completion', {});
    log.flush();
    expect(JSON.parse(writes[0]!)).toMatchObject({ xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793' });
  });

  it('writes each line as the header fields then the record, byte for byte as one merged object would be', () => {
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    const { stream, writes } = sink();
    const log = new RecordLog(new Logger({ serviceName: 'complete', logLevel: 'INFO' }), 'complete', stream);
    const record = { _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'K' }] }, tenant_id: 'a "quoted"', n: 1.5 };
    log.info('completion "x"', record);
    log.info('completion', {});
    log.info('completion', { message: 'a field named like a header field wins', level: 'X' });
    log.flush();
    const lines = writes[0]!.split('\n').slice(0, -1);
    const timestamps = lines.map((line) => (JSON.parse(line) as { timestamp: string }).timestamp);
    const header = (message: string, n: number) => ({
      level: 'INFO',
      message,
      timestamp: timestamps[n],
      service: 'complete',
      xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
    });
    expect(lines).toEqual([
      JSON.stringify({ ...header('completion "x"', 0), ...record }),
      JSON.stringify(header('completion', 1)),
      JSON.stringify({ ...header('completion', 2), message: 'a field named like a header field wins', level: 'X' }),
    ]);
  });

  it('flush() writes what is waiting at once, and only once', async () => {
    const { stream, writes } = sink();
    const log = new RecordLog(new Logger({ serviceName: 'complete', logLevel: 'INFO' }), 'complete', stream);
    log.info('completion', { tenant_id: 'a' });
    log.flush();
    expect(writes).toHaveLength(1);
    await nextTurn(); // the scheduled flush finds nothing left
    expect(writes).toHaveLength(1);
  });
});
