// The two special fallback kinds: context-window fallbacks for a request too long for its group, and
// content-policy fallbacks for a refusal (which stands when no fallback answers otherwise).
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../functions/complete/config.ts';
import { fail, failWith, REFUSAL, scriptedRouter, type Step } from './scripted-router.ts';

/** `small` (one deployment), its ordinary fallback `cheap`, its context-window fallback `big`, and `lax`. */
const MODEL_LIST: ConfigFile['model_list'] = ['small', 'cheap', 'big', 'lax'].map((group) => ({
  model_name: group,
  litellm_params: { model: `openai/${group}` },
}));
const TOO_LONG = failWith({ kind: 'rejected', status: 400, contextLength: true });

const router = (scripts: Record<string, Step[] | Step>, settings: ConfigFile['router_settings'] = {}) =>
  scriptedRouter(scripts, {
    modelList: MODEL_LIST,
    settings: {
      fallbacks: [{ small: ['cheap'] }],
      context_window_fallbacks: [{ small: ['big'] }],
      content_policy_fallbacks: [{ small: ['lax', 'big'] }],
      ...settings,
    },
  });

describe('context-window fallbacks', () => {
  it('run instead of the fallbacks when the group rejected the request for its length', async () => {
    const r = router({ 'openai/small': TOO_LONG });
    const result = await r.route('small');
    expect(result.ok && result.group).toBe('big');
    expect(r.callsTo('openai/cheap')).toBe(0);
    expect(
      result.attempts.map(({ group, deployment, outcome, status }) => ({ group, deployment, outcome, status })),
    ).toEqual([
      { group: 'small', deployment: 'openai/small', outcome: 'error', status: 400 },
      { group: 'big', deployment: 'openai/big', outcome: 'ok', status: undefined },
    ]);
  });

  it('run for a 413 too', async () => {
    const r = router({ 'openai/small': fail(413) });
    expect(await r.answeredBy('small')).toBe('openai/big');
    expect(r.callsTo('openai/cheap')).toBe(0);
  });

  it('do not run for other failures: the fallbacks do', async () => {
    const r = router({ 'openai/small': fail(500) });
    expect(await r.answeredBy('small')).toBe('openai/cheap');
    expect(r.callsTo('openai/big')).toBe(0);
  });

  it('leave a group without an entry of its own to its fallbacks', async () => {
    const r = router({ 'openai/small': TOO_LONG }, { context_window_fallbacks: [{ cheap: ['big'] }] });
    expect(await r.answeredBy('small')).toBe('openai/cheap');
    expect(r.callsTo('openai/big')).toBe(0);
  });

  it('end in a 503 listing every attempt when they fail too', async () => {
    const r = router({ 'openai/small': TOO_LONG, 'openai/big': TOO_LONG });
    const result = await r.route('small');
    expect(result.ok).toBe(false);
    expect(result.attempts.map((a) => a.group)).toEqual(['small', 'big']);
  });
});

describe('content-policy fallbacks', () => {
  it('answer in place of a refusal, the first that does not refuse', async () => {
    const r = router({ 'openai/small': 'refusal', 'openai/lax': fail(500) });
    const result = await r.route('small');
    expect(result.ok && result.group).toBe('big');
    expect(result.ok && result.answer.finishReason).toBe('stop');
    expect(result.attempts.map((a) => [a.group, a.outcome])).toEqual([
      ['small', 'ok'],
      ['lax', 'error'],
      ['lax', 'error'],
      ['lax', 'error'],
      ['big', 'ok'],
    ]);
  });

  it('leave the refusal standing when every one fails or refuses too', async () => {
    const r = router({ 'openai/small': 'refusal', 'openai/lax': 'refusal', 'openai/big': fail(500) });
    const result = await r.route('small');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.answer).toEqual(REFUSAL);
    expect(result.group).toBe('small');
    expect(result.deployment.id).toBe('openai/small');
    expect(result.attempts.map((a) => a.group)).toEqual(['small', 'lax', 'big', 'big', 'big']);
    expect(r.callsTo('openai/cheap')).toBe(0); // a refusal is an answer: the ordinary fallbacks never run
  });

  it('do not run when the group has none: the refusal is the answer', async () => {
    const r = router({ 'openai/small': 'refusal' }, { content_policy_fallbacks: [] });
    const result = await r.route('small');
    expect(result.ok && result.answer.finishReason).toBe('content_filter');
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/small']);
  });

  it('do not run for an answer that is not a refusal', async () => {
    const r = router({});
    expect(await r.answeredBy('small')).toBe('openai/small');
    expect(r.calls).toHaveLength(1);
  });
});

describe('ordinary fallbacks as configured', () => {
  it('run a target named twice once', async () => {
    const r = router(
      { 'openai/small': fail(500), 'openai/cheap': fail(500), 'openai/big': fail(500) },
      {
        fallbacks: [{ small: ['cheap', 'big', 'cheap'] }],
        num_retries: 0,
      },
    );
    const result = await r.route('small');
    expect(result.ok).toBe(false);
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/small', 'openai/cheap', 'openai/big']);
  });
});
