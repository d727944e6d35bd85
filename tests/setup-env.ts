// Points every AWS SDK client of a test worker at the run's SQS emulator, with dummy credentials.
import { inject } from 'vitest';

process.env.AWS_ENDPOINT_URL = inject('sqsEndpoint');
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// The handlers' JSON log lines go straight to stdout/stderr (Powertools has its own Console, which Vitest does
// not capture); keep them out of the test report unless KONSTRUCT_TEST_LOGS=1. Tests that check
// logs capture stdout themselves (helpers/log-capture.ts), over this filter.
if (!process.env.KONSTRUCT_TEST_LOGS) {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
      typeof chunk === 'string' && chunk.startsWith('{"level"') ? true : write(chunk, ...rest)) as typeof stream.write;
  }
}
