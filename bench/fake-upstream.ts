// A fake OpenAI-compatible provider in its own process for the benchmark; prints its URL, answers after DELAY_MS.
import { FakeProvider } from '../tests/fakes/provider-server.ts';

const fake = new FakeProvider('openai');
fake.record = false;
fake.always({ delayMs: Number(process.env.DELAY_MS ?? 0) || undefined });
await fake.start();
process.stdout.write(`${fake.url}\n`);
process.on('SIGTERM', () => void fake.stop().then(() => process.exit(0)));
