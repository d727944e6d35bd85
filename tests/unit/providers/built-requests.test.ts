// BuiltRequests: a Stainless client's URL and headers are reused only once the SDK built them the same twice.
import { describe, expect, it } from 'vitest';
import { BuiltRequests } from '../../../functions/complete/providers/built-requests.ts';

const options = (body: unknown = { model: 'm' }) => ({ method: 'post', path: '/chat/completions', body });

/** A stand-in for the SDK's `buildRequest`, counting its calls; `header` gives a header's value per call. */
function sdk(header: (n: number) => string = () => 'same') {
  let calls = 0;
  const build = (body: unknown) => async () => {
    calls++;
    return {
      req: {
        method: 'post',
        headers: new Headers({ 'x-stable': 'yes', 'x-varies': header(calls) }),
        body: JSON.stringify(body),
      },
      url: 'http://fake/v1/chat/completions',
      timeout: 600_000,
    };
  };
  return { build, calls: () => calls };
}

describe('BuiltRequests reuses the SDK-built URL and headers only after two builds agreed', () => {
  it("calls the SDK for the first two requests, then reuses its URL and headers with each call's own body", async () => {
    const built = new BuiltRequests();
    const fake = sdk();
    for (let n = 0; n < 4; n++) {
      const body = { model: 'm', n };
      const result = await built.build(options(body), 0, 600_000, fake.build(body));
      expect(result.url).toBe('http://fake/v1/chat/completions');
      expect(result.req.body).toBe(JSON.stringify(body));
    }
    expect(fake.calls()).toBe(2);
    const reused = await built.build(options({ model: 'x' }), 0, 600_000, fake.build({ model: 'x' }));
    expect(reused.req.headers).toEqual({ 'x-stable': 'yes', 'x-varies': 'same' });
  });

  it('never reuses the headers of an endpoint whose headers changed between two builds', async () => {
    const built = new BuiltRequests();
    const fake = sdk((n) => `call-${n}`);
    for (let n = 0; n < 5; n++) {
      const result = await built.build(options(), 0, 600_000, fake.build({ model: 'm' }));
      expect((result.req.headers as Headers).get('x-varies')).toBe(`call-${n + 1}`);
    }
    expect(fake.calls()).toBe(5);
  });

  it('leaves a call with its own headers, query or timeout to the SDK', async () => {
    const built = new BuiltRequests();
    const fake = sdk();
    for (const extra of [{ headers: { a: 'b' } }, { query: { q: 1 } }, { timeout: 5_000 }, { idempotencyKey: 'k' }]) {
      for (let n = 0; n < 3; n++) await built.build({ ...options(), ...extra }, 0, 600_000, fake.build({ model: 'm' }));
    }
    expect(fake.calls()).toBe(12);
  });
});
