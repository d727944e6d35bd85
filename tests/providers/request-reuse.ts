// The check that a client reusing the requests the SDK built sends, call after call, exactly what the SDK
// would: the same path and headers as the first (SDK-built) request, and each call's own body.
import { expect } from 'vitest';
import type { Provider } from '../../functions/complete/providers/provider.ts';
import type { FakeProvider } from '../fakes/provider-server.ts';

/** Five calls through `provider`; the fake must have seen five requests alike but for their bodies. */
export async function expectSdkBuiltRequestsReused(
  provider: Provider,
  fake: FakeProvider,
  call: { model: string; sentModel: string; maxTokensField: 'max_tokens' | 'max_completion_tokens' },
): Promise<void> {
  for (let n = 0; n < 5; n++) {
    await provider.complete({
      model: call.model,
      messages: [{ role: 'user', content: `Hi ${n}` }],
      maxTokens: 9 + n,
      signal: new AbortController().signal,
    });
  }
  // Connection-level headers differ per socket; everything the SDK sets must not.
  const sdkHeaders = (n: number) => {
    const { connection: _c, host: _h, ...rest } = fake.requests[n]!.headers;
    return rest;
  };
  expect(fake.requests).toHaveLength(5);
  for (let n = 1; n < 5; n++) {
    expect(fake.requests[n]!.path).toBe(fake.requests[0]!.path);
    expect(sdkHeaders(n)).toEqual({ ...sdkHeaders(0), 'content-length': sdkHeaders(n)['content-length'] });
    expect(fake.requests[n]!.body).toEqual({
      model: call.sentModel,
      messages: [{ role: 'user', content: `Hi ${n}` }],
      [call.maxTokensField]: 9 + n,
    });
  }
}
