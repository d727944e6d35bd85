// Order tiers and the routing strategies, through the router with scripted deployments.
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../functions/complete/config.ts';
import { fail, scriptedRouter } from './scripted-router.ts';

type Params = Partial<ConfigFile['model_list'][number]['litellm_params']>;
const group = (name: string, deployments: Record<string, Params>): ConfigFile['model_list'] =>
  Object.entries(deployments).map(([model, params]) => ({ model_name: name, litellm_params: { model, ...params } }));

describe('order tiers', () => {
  const tiers = group('tiered', { 'openai/t1a': { order: 1 }, 'openai/t1b': {}, 'openai/t2': { order: 2 } });

  it('tries a higher order only when every lower one failed in this request', async () => {
    const r = scriptedRouter({ 'openai/t1a': [fail(500)], 'openai/t1b': [fail(500)] }, { modelList: tiers });
    expect(await r.answeredBy('tiered')).toBe('openai/t2');
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/t1a', 'openai/t1b', 'openai/t2']);
    const s = scriptedRouter({ 'openai/t1a': [fail(500)] }, { modelList: tiers });
    expect(await s.answeredBy('tiered')).toBe('openai/t1b');
    expect(s.callsTo('openai/t2')).toBe(0);
  });

  it('goes to the higher order at once when the lower ones are unavailable', async () => {
    const r = scriptedRouter({ 'openai/t1a': [fail(429)], 'openai/t1b': [fail(429)] }, { modelList: tiers });
    expect(await r.answeredBy('tiered')).toBe('openai/t2');
    expect(await r.answeredBy('tiered')).toBe('openai/t2'); // both of order 1 are cooling down
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/t1a', 'openai/t1b', 'openai/t2', 'openai/t2']);
  });

  it('spends 1 + num_retries attempts in all across the tiers', async () => {
    const r = scriptedRouter(
      { 'openai/t1a': [fail(500)], 'openai/t1b': [fail(500)] },
      { modelList: tiers, settings: { num_retries: 1 } },
    );
    expect((await r.route('tiered')).ok).toBe(false);
    expect(r.callsTo('openai/t2')).toBe(0);
  });

  it('retries the lowest order first once every deployment has failed', async () => {
    const two = group('tiered', { 'openai/t1': {}, 'openai/t2': { order: 2 } });
    const r = scriptedRouter({ 'openai/t1': [fail(500)], 'openai/t2': [fail(500)] }, { modelList: two });
    expect(await r.answeredBy('tiered')).toBe('openai/t1');
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/t1', 'openai/t2', 'openai/t1']);
  });
});

describe('simple-shuffle picks at random in proportion to weight, else rpm, else tpm', () => {
  /** Routes 400 requests with a scripted random spread evenly over [0, 1), and counts the answers. */
  async function shares(deployments: Record<string, Params>): Promise<Record<string, number>> {
    let i = 0;
    const r = scriptedRouter(
      {},
      {
        modelList: group('g', deployments),
        settings: { routing_strategy: 'simple-shuffle' },
        random: () => (i++ + 0.5) / 400,
      },
    );
    const counts: Record<string, number> = {};
    for (let n = 0; n < 400; n++) {
      const id = (await r.answeredBy('g'))!;
      counts[id] = (counts[id] ?? 0) + 1;
    }
    return counts;
  }

  it('by weight', async () => {
    expect(await shares({ 'openai/a': { weight: 1 }, 'openai/b': { weight: 3 } })).toEqual({
      'openai/a': 100,
      'openai/b': 300,
    });
  });

  it('by rpm when no weight is set, and by weight when one is (tpm beside it is not acted on)', async () => {
    expect(await shares({ 'openai/a': { rpm: 300 }, 'openai/b': { rpm: 100 } })).toEqual({
      'openai/a': 300,
      'openai/b': 100,
    });
    expect(await shares({ 'openai/a': { weight: 1, tpm: 9_000 }, 'openai/b': { weight: 1, tpm: 1 } })).toEqual({
      'openai/a': 200,
      'openai/b': 200,
    });
  });

  it('by tpm when neither weight nor rpm is set', async () => {
    expect(await shares({ 'openai/a': { tpm: 1_000 }, 'openai/b': { tpm: 3_000 } })).toEqual({
      'openai/a': 100,
      'openai/b': 300,
    });
  });

  it('uniformly when none is set', async () => {
    expect(await shares({ 'openai/a': {}, 'openai/b': {}, 'openai/c': {}, 'openai/d': {} })).toEqual({
      'openai/a': 100,
      'openai/b': 100,
      'openai/c': 100,
      'openai/d': 100,
    });
  });
});

describe('least-busy picks the deployment with the fewest calls in flight in this instance', () => {
  it('with concurrent calls', async () => {
    let release1!: () => void;
    let release2!: () => void;
    const r = scriptedRouter(
      {
        'openai/a': [{ until: new Promise<void>((resolve) => (release1 = resolve)) }],
        'openai/b': [{ until: new Promise<void>((resolve) => (release2 = resolve)) }],
      },
      { settings: { routing_strategy: 'least-busy' } },
    );
    const first = r.answeredBy('pair'); // a, held: a has 1 in flight
    const second = r.answeredBy('pair'); // b, held: 1 each
    expect(await r.answeredBy('pair')).toBe('openai/a'); // a tie goes to configuration order
    release2();
    expect(await second).toBe('openai/b');
    expect(await r.answeredBy('pair')).toBe('openai/b'); // a still has the first call in flight
    release1();
    expect(await first).toBe('openai/a');
    expect(await r.answeredBy('pair')).toBe('openai/a');
  });
});

describe('cost-based-routing picks the lowest price per token, unknown prices last', () => {
  it('and moves up the price list as deployments fail', async () => {
    const modelList: ConfigFile['model_list'] = [
      { model_name: 'g', litellm_params: { model: 'openai/unknown' } },
      {
        model_name: 'g',
        litellm_params: { model: 'openai/dear' },
        model_info: { input_cost_per_token: 3e-6, output_cost_per_token: 15e-6 },
      },
      {
        model_name: 'g',
        litellm_params: { model: 'openai/cheap' },
        model_info: { input_cost_per_token: 10e-6, output_cost_per_token: 1e-6 },
      },
    ];
    const r = scriptedRouter(
      { 'openai/cheap': [fail(500)], 'openai/dear': [fail(500)] },
      { modelList, settings: { routing_strategy: 'cost-based-routing' } },
    );
    expect(await r.answeredBy('g')).toBe('openai/unknown');
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/cheap', 'openai/dear', 'openai/unknown']);
  });
});
