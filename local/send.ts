// `npm run send -- "Hello"`: publishes a message to the demo agent through the running local runtime
// and prints the reply when it arrives on the replies queue.
import { randomUUID } from 'node:crypto';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { replySchema } from '../functions/common/message.ts';
import { createSqsClient, enqueueMessage } from '../functions/common/queue.ts';
import { readRuntimeState } from './runtime-state.ts';

const TIMEOUT_MS = Number(process.env.SEND_TIMEOUT_MS ?? 90_000);

function fail(message: string): never {
  process.stderr.write(`✗ ${message}\n`);
  process.exit(1);
}

const text = process.argv.slice(2).join(' ').trim();
if (!text) fail('nothing to send: npm run send -- "Hello"');
const state = readRuntimeState();
if (!state) fail('the local runtime is not running: start it with `npm start` in another terminal, then send again.');

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
process.env.AWS_ENDPOINT_URL ||= state.sqsEndpoint;
process.env.AWS_REGION ||= state.region;
process.env.AWS_ACCESS_KEY_ID ||= 'local';
process.env.AWS_SECRET_ACCESS_KEY ||= 'local';
const sqs = createSqsClient();

const id = `cli-${randomUUID()}`;
try {
  await enqueueMessage(
    {
      id,
      tenant_id: state.demoTenantId,
      channel: 'slack',
      channel_metadata: { source: 'npm run send' },
      sender: { user_id: process.env.USER || 'cli-user', display_name: 'You', is_bot: false },
      content: { text },
      timestamp: new Date().toISOString(),
      thread_id: process.env.THREAD_ID || null,
    },
    { sqs, queueUrl: state.queues.inbound },
  );
} catch (err) {
  fail(`could not publish to ${state.queues.inbound}: ${(err as Error).message}. Is \`npm start\` still running?`);
}
process.stdout.write(`→ sent to Ava (message ${id}); waiting for the reply…\n`);

const deadline = Date.now() + TIMEOUT_MS;
while (Date.now() < deadline) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: state.queues.replies,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 2,
      VisibilityTimeout: 5,
    }),
  );
  for (const m of Messages) {
    const reply = replySchema.safeParse(JSON.parse(m.Body ?? '{}'));
    if (reply.success && reply.data.in_reply_to === id) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: state.queues.replies, ReceiptHandle: m.ReceiptHandle! }));
      const r = reply.data;
      process.stdout.write(
        `← Ava${r.model ? ` (${r.model})` : ''}${r.fallback ? ' [fallback: no provider answered]' : ''}:\n${r.content.text}\n`,
      );
      process.exit(0);
    }
    // Someone else's reply: put it back at once.
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: state.queues.replies,
        ReceiptHandle: m.ReceiptHandle!,
        VisibilityTimeout: 0,
      }),
    );
  }
}
fail(`no reply within ${TIMEOUT_MS / 1000} s. Check the \`npm start\` terminal for errors.`);
