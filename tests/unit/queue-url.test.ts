// The inbound queue's URL, built from the event source ARN as AWS builds it.
import { describe, expect, it } from 'vitest';
import { queueUrlFromArn } from '../../functions/common/queue.ts';

describe('a queue URL is built from its ARN as AWS builds it', () => {
  it('region, account and name from the ARN; amazonaws.com.cn in the China partition', () => {
    expect(queueUrlFromArn('arn:aws:sqs:eu-west-1:123456789012:konstruct-inbound.fifo')).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/konstruct-inbound.fifo',
    );
    expect(queueUrlFromArn('arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo')).toBe(
      'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo',
    );
  });

  it('refuses what is not a queue ARN', () => {
    expect(() => queueUrlFromArn('not-an-arn')).toThrow('not an SQS queue ARN');
  });
});
