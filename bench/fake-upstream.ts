// A fake OpenAI-compatible provider in its own process for the benchmark; prints its URL, answers after DELAY_MS.
// A request with `stream: true` is answered as STREAM_PIECES tokens STREAM_EVERY_MS apart (default 50, 20 ms).
import { FakeProvider } from '../tests/fakes/provider-server.ts';

const pieces = Number(process.env.STREAM_PIECES ?? 50);
const fake = new FakeProvider('openai');
fake.record = false;
fake.always({
  delayMs: Number(process.env.DELAY_MS ?? 0) || undefined,
  stream: {
    pieces: Array.from({ length: pieces }, (_, i) => `t${i} `),
    everyMs: Number(process.env.STREAM_EVERY_MS ?? 20),
  },
});
await fake.start();
process.stdout.write(`${fake.url}\n`);
process.on('SIGTERM', () => void fake.stop().then(() => process.exit(0)));
