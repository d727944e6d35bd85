// Every request's shape, whatever one attempt does: a group's attempts (selection, retries with backoff,
// the 429 exception, failure accounting), then its fallback groups of the kind the failure calls for.
import type { Deployment, RouterConfig } from '../config.ts';
import { ProviderError, type FailureInfo } from '../providers/failure.ts';
import { backoffMs } from './backoff.ts';
import type { CooldownTracker } from './cooldown.ts';
import type { Attempt, RouteInput, SkipReason } from './router.ts';
import { selectDeployment, type DeploymentStats, type LatencyKind } from './selection.ts';

/** The router's state across requests, and its clock, random and sleep. */
export interface RouterState {
  config: RouterConfig;
  stats: DeploymentStats;
  cooldowns: CooldownTracker;
  /** The key that earned a deployment its 401/403 cooldown; another key clears the cooldown. */
  rejectedKeys: Map<string, string | null>;
  now: () => number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  /** The deployment's key, clearing an auth cooldown that an older key earned. */
  currentKey(d: Deployment): string | null | undefined;
}

/** How one kind of request attempts a deployment; the attempts, retries and fallbacks around it are shared. */
export interface AttemptKind<T> {
  /** Which latency average ranks the deployments for it. */
  latency: LatencyKind;
  /** One call to one deployment: its answer, or why it gave none. */
  run(d: Deployment, key: string | null): Promise<T | ProviderError>;
  /** The answer is a refusal: the group's content-policy fallbacks may answer in its place. */
  refused(answer: T): boolean;
  /** Lets go of an answer that will not be used. */
  discard(answer: T): void;
  /** The caller went away: nothing more is attempted. */
  signal?: AbortSignal;
}

export interface Answered<T> {
  answer: T;
  deployment: Deployment;
  group: string;
}

/**
 * The group, then the fallbacks its outcome calls for, as `Router.route` documents: context-window ones
 * when it failed for the request's length, content-policy ones when its answer was a refusal (which is
 * kept, and stands, until one of them answers otherwise), else the ordinary ones.
 */
export async function routeWith<T>(
  state: RouterState,
  input: RouteInput,
  how: AttemptKind<T>,
): Promise<
  ({ ok: true } & Answered<T> & { attempts: Attempt[] }) | { ok: false; attempts: Attempt[]; retryAfterS?: number }
> {
  const { settings } = state.config;
  const attempts: Attempt[] = [];
  const gone = () => how.signal?.aborted === true;
  const first = await runGroup(state, input.group, input, attempts, how);
  if (first) {
    if (!how.refused(first.answer)) return { ok: true, ...first, attempts };
    for (const group of settings.contentPolicyFallbacks.get(input.group) ?? []) {
      const answered = await runGroup(state, group, input, attempts, how);
      if (answered && !how.refused(answered.answer)) {
        how.discard(first.answer);
        return { ok: true, ...answered, attempts };
      }
      if (answered) how.discard(answered.answer);
    }
    if (gone()) {
      how.discard(first.answer);
      return { ok: false, attempts };
    }
    return { ok: true, ...first, attempts };
  }
  const tooLong = attempts.some((a) => a.failure?.contextLength); // a 413 is one too (failure.ts)
  const fallbacks =
    (tooLong && settings.contextWindowFallbacks.get(input.group)) || settings.fallbacks.get(input.group);
  const chain = [input.group, ...(fallbacks ?? [])];
  for (const group of chain.slice(1)) {
    const answered = await runGroup(state, group, input, attempts, how);
    if (answered) return { ok: true, ...answered, attempts };
  }
  const ends = chain
    .flatMap((g) => state.config.groups.get(g) ?? [])
    .map((d) => state.cooldowns.cooldownUntil(d.id))
    .filter((t): t is number => t !== undefined);
  const earliest = ends.length ? Math.min(...ends) : undefined;
  return {
    ok: false,
    attempts,
    retryAfterS: earliest === undefined ? undefined : Math.max(1, Math.ceil((earliest - state.now()) / 1000)),
  };
}

/** The group's attempts (`1 + num_retries`); undefined when none answered or the caller went away. */
async function runGroup<T>(
  state: RouterState,
  group: string,
  input: RouteInput,
  attempts: Attempt[],
  how: AttemptKind<T>,
): Promise<Answered<T> | undefined> {
  const { settings } = state.config;
  const { deadline } = input;
  const deployments = state.config.groups.get(group) ?? [];
  const keys = new Map(deployments.map((d) => [d.id, state.currentKey(d)]));
  const tries = new Map<string, number>(); // attempts per deployment in this request
  const excluded = new Set<string>(); // not again in this request (rejected, not found, key, quota, x-should-retry)
  // Rejections count against their deployment only once another deployment of the group answers the request.
  const rejections: { id: string; at: number }[] = [];
  let rateLimited: { deployment: Deployment; retryAfterMs: number } | undefined;
  let deadlineHit = false;

  for (let n = 0; n < 1 + settings.numRetries; n++) {
    if (how.signal?.aborted) return undefined;
    const usable = deployments.filter(
      (d) => keys.get(d.id) !== undefined && !excluded.has(d.id) && state.cooldowns.cooldownUntil(d.id) === undefined,
    );
    let pick: Deployment | undefined;
    let waitMs = 0;
    if (usable.length > 0) {
      const untried = usable.filter((d) => !tries.has(d.id));
      pick = selectDeployment(
        untried.length ? untried : usable,
        settings.routingStrategy,
        state.stats,
        state.random,
        how.latency,
      )!;
      const previous = tries.get(pick.id) ?? 0;
      if (previous > 0) waitMs = backoffMs(previous, state.random);
    } else if (rateLimited && rateLimited.retryAfterMs < deadline.remaining()) {
      // The one exception to cooldown: this request's own 429, when nothing else is left. Its
      // Retry-After is a floor: a retry of the same deployment still waits at least its backoff.
      pick = rateLimited.deployment;
      waitMs = Math.max(rateLimited.retryAfterMs, backoffMs(tries.get(pick.id) ?? 1, state.random));
      rateLimited = undefined;
    } else {
      break;
    }
    if (waitMs >= deadline.remaining()) {
      deadlineHit = true;
      break;
    }
    if (waitMs > 0) await pause(state, waitMs, how.signal);
    if (how.signal?.aborted) return undefined;

    tries.set(pick.id, (tries.get(pick.id) ?? 0) + 1);
    const key = keys.get(pick.id)!;
    const started = state.now();
    const result = await how.run(pick, key);
    if (!(result instanceof ProviderError)) {
      attempts.push({ group, deployment: pick.id, outcome: 'ok' });
      for (const r of rejections) {
        state.cooldowns.recordFailure(r.id);
        state.stats.failed(r.id, r.at);
      }
      return { answer: result, deployment: pick, group };
    }
    const failure = result.info;
    if (how.signal?.aborted) {
      attempts.push({ group, deployment: pick.id, outcome: 'cancelled' });
      return undefined;
    }
    attempts.push({
      group,
      deployment: pick.id,
      outcome: failure.timeout ? 'timeout' : 'error',
      ...(failure.status !== undefined && { status: failure.status }),
      failure,
    });
    account(state, pick, key, failure, failure.timeout ? state.now() - started : undefined, how.latency);
    if (failure.kind === 'rejected') {
      // Counted, if at all, as of when it arrived: a success of that deployment after it still wins.
      if (!failure.contextLength) rejections.push({ id: pick.id, at: state.now() });
    } else if (failure.kind === 'rate_limited') {
      if (failure.retryAfterMs !== undefined && !failure.noRetry)
        rateLimited = { deployment: pick, retryAfterMs: failure.retryAfterMs };
    }
    if (failure.noRetry || !['retryable', 'rate_limited'].includes(failure.kind)) excluded.add(pick.id);
    if (deadline.expired()) {
      deadlineHit = true;
      break;
    }
  }

  for (const d of deployments) {
    if (tries.has(d.id)) continue;
    const reason: SkipReason | undefined =
      keys.get(d.id) === undefined
        ? 'no credentials'
        : state.cooldowns.cooldownUntil(d.id) !== undefined
          ? 'cooldown'
          : deadlineHit || deadline.expired()
            ? 'deadline'
            : undefined;
    if (reason) attempts.push({ group, deployment: d.id, outcome: 'skipped', reason });
  }
  return undefined;
}

/**
 * What a failed attempt does to its deployment for every request: its cooldown and its rank, from the
 * moment the failure arrived (a 60 s timeout must not age out of the 60 s rank as it is recorded). A
 * rejection is left to the request (counted only if another deployment answers it).
 */
export function account(
  state: RouterState,
  d: Deployment,
  key: string | null,
  failure: FailureInfo,
  timedOutAfterMs: number | undefined,
  latency: LatencyKind,
): void {
  switch (failure.kind) {
    case 'rejected':
      return;
    case 'auth':
      state.cooldowns.recordLastingFailure(d.id);
      state.rejectedKeys.set(d.id, key);
      break;
    case 'quota':
      state.cooldowns.recordLastingFailure(d.id);
      break;
    case 'not_found':
      state.cooldowns.recordNotFound(d.id);
      break;
    case 'rate_limited':
      state.cooldowns.recordRateLimit(d.id, failure.retryAfterMs);
      break;
    case 'retryable':
      state.cooldowns.recordFailure(d.id);
      break;
  }
  state.stats.failed(d.id, state.now(), timedOutAfterMs, latency);
}

/** A backoff or Retry-After wait, cut short when the caller goes away. */
async function pause(state: RouterState, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return state.sleep(ms);
  if (signal.aborted) return;
  let onAbort = () => {};
  const gone = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener('abort', onAbort, { once: true });
  await Promise.race([state.sleep(ms), gone]);
  signal.removeEventListener('abort', onAbort);
}
