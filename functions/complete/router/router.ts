// The LLM router: picks deployments of a model group, retries, cools down failing ones, and falls back.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, RouterConfig } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import type { ChatMessage } from '../../common/complete-contract.ts';
import type { Provider, ProviderAnswer } from '../providers/provider.ts';
import { backoffMs } from './backoff.ts';
import { CooldownTracker } from './cooldown.ts';
import { ProviderError, type FailureInfo } from '../providers/failure.ts';
import { DeploymentStats, selectDeployment, type LatencyKind } from './selection.ts';
import { CLIENT_CLOSED, openStream, type OpenStream, type SetTimer, type StreamRouteResult } from './stream.ts';

export { CLIENT_CLOSED, type StreamRouteResult } from './stream.ts';

/** The key a deployment would use now: a string, `null` when it needs none, `undefined` when it is missing. */
export type KeyLookup = (deployment: Deployment) => string | null | undefined;
/** Returns the provider client for a deployment and key (created once, then reused). */
export type ProviderLookup = (deployment: Deployment, key: string | null) => Provider;

export interface RouterDeps {
  config: RouterConfig;
  keyFor: KeyLookup;
  providerFor: ProviderLookup;
  now?: () => number;
  random?: () => number;
  /** Waits out a backoff or a Retry-After; tests pass one that moves their clock instead. */
  sleep?: (ms: number) => Promise<void>;
  /** Times each attempt out; tests pass one that runs on their clock. */
  setTimer?: SetTimer;
}

export interface RouteInput {
  group: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  /** When the answer must be ready, measured by the router's clock. */
  deadline: Deadline;
}

/** `cancelled`: the caller went away during the attempt (counted against nobody). */
export type AttemptOutcome = 'ok' | 'error' | 'timeout' | 'skipped' | 'cancelled';
export type SkipReason = 'cooldown' | 'no credentials' | 'deadline';

export interface Attempt {
  group: string;
  deployment: string;
  outcome: AttemptOutcome;
  status?: number;
  reason?: SkipReason;
  /** The failure's class, code and provider request id: for logs, never for responses. */
  failure?: FailureInfo;
}

export type RouteResult =
  | { ok: true; answer: ProviderAnswer; deployment: Deployment; group: string; attempts: Attempt[] }
  | {
      ok: false;
      attempts: Attempt[];
      /** Seconds until the earliest cooldown ends, if one does. */ retryAfterS?: number;
    };

/** A streamed request: `signal` aborting means the caller went away. */
export type StreamRouteInput = RouteInput & { signal?: AbortSignal };

/** How one kind of request attempts a deployment; the attempts, retries and fallbacks around it are shared. */
interface AttemptKind<T> {
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

interface Answered<T> {
  answer: T;
  deployment: Deployment;
  group: string;
}

export interface DeploymentHealth {
  group: string;
  deployment: string;
  available: boolean;
  cooldown_until?: string;
  latency_ms?: number;
  reason?: 'no credentials';
}

export class Router {
  private readonly cooldowns: CooldownTracker;
  private readonly stats: DeploymentStats;
  /** The key that earned a deployment its 401/403 cooldown; another key clears the cooldown. */
  private readonly rejectedKeys = new Map<string, string | null>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly setTimer: SetTimer;

  constructor(private readonly deps: RouterDeps) {
    this.now = deps.now ?? (() => Date.now()); // looked up per call: a Date.now replaced later still applies
    this.random = deps.random ?? Math.random;
    this.sleep = deps.sleep ?? ((ms) => sleep(ms));
    this.setTimer =
      deps.setTimer ??
      ((ms, fire) => {
        const timer = setTimeout(fire, ms);
        return () => clearTimeout(timer);
      });
    this.stats = new DeploymentStats(this.now);
    this.cooldowns = new CooldownTracker(deps.config.settings.allowedFails, deps.config.settings.cooldownMs, this.now);
  }

  get groups(): string[] {
    return [...this.deps.config.groups.keys()];
  }

  hasGroup(group: string): boolean {
    return this.deps.config.groups.has(group);
  }

  /**
   * Answers from `input.group`, then from its fallback groups in order, within `input.deadline`. A group
   * that failed because the request was too long for it runs its context-window fallbacks instead of its
   * fallbacks, when it has any; a group whose answer was a refusal asks its content-policy fallbacks,
   * and the refusal stands when none of them answers otherwise. A fallback group's own fallbacks are not
   * followed.
   */
  async route(input: RouteInput): Promise<RouteResult> {
    return this.routeWith(input, {
      latency: 'call',
      run: (d, key) => this.attempt(d, key, input),
      refused: (answer) => answer.finishReason === 'content_filter',
      discard: () => undefined,
    });
  }

  /**
   * As `route`, streamed: an attempt answers when its first content or refusal piece arrives (its wait
   * bounded by the deployment's timeout and the deadline), and until then fails, retries and falls back
   * as in `route`. A stream that begins with a refusal asks the content-policy fallbacks, kept open
   * meanwhile: it is the answer, whole, when none of them answers otherwise. After the first piece, see
   * `StreamRouteResult.rest`. Time to first token ranks the deployments, in its own average.
   */
  async routeStream(input: StreamRouteInput): Promise<StreamRouteResult> {
    const routed = await this.routeWith(input, {
      latency: 'first-token',
      run: (d, key) => this.streamAttempt(d, key, input),
      refused: (stream) => stream.refused,
      discard: (stream) => stream.close(),
      signal: input.signal,
    });
    if (!routed.ok) return routed;
    const { answer, deployment, group, attempts } = routed;
    return { ok: true, deployment, group, attempts, head: answer.head, rest: answer.rest, ttftMs: answer.ttftMs };
  }

  /**
   * Answers from `input.group`, then from its fallback groups in order, within `input.deadline`. A group
   * that failed because the request was too long for it runs its context-window fallbacks instead of its
   * fallbacks, when it has any; a group whose answer was a refusal asks its content-policy fallbacks,
   * and the refusal stands when none of them answers otherwise. A fallback group's own fallbacks are not
   * followed.
   */
  private async routeWith<T>(
    input: RouteInput,
    how: AttemptKind<T>,
  ): Promise<
    ({ ok: true } & Answered<T> & { attempts: Attempt[] }) | { ok: false; attempts: Attempt[]; retryAfterS?: number }
  > {
    const { settings } = this.deps.config;
    const attempts: Attempt[] = [];
    const gone = () => how.signal?.aborted === true;
    const first = await this.runGroup(input.group, input, attempts, how);
    if (first) {
      if (!how.refused(first.answer)) return { ok: true, ...first, attempts };
      for (const group of settings.contentPolicyFallbacks.get(input.group) ?? []) {
        const answered = await this.runGroup(group, input, attempts, how);
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
      const answered = await this.runGroup(group, input, attempts, how);
      if (answered) return { ok: true, ...answered, attempts };
    }
    const ends = chain
      .flatMap((g) => this.deps.config.groups.get(g) ?? [])
      .map((d) => this.cooldowns.cooldownUntil(d.id))
      .filter((t): t is number => t !== undefined);
    const earliest = ends.length ? Math.min(...ends) : undefined;
    return {
      ok: false,
      attempts,
      retryAfterS: earliest === undefined ? undefined : Math.max(1, Math.ceil((earliest - this.now()) / 1000)),
    };
  }

  /** The router's in-memory view for GET /health; calls no provider. */
  health(): DeploymentHealth[] {
    return this.deps.config.deployments.map((d) => {
      const key = this.currentKey(d);
      const until = this.cooldowns.cooldownUntil(d.id);
      const latency = this.stats.latency(d.id);
      return {
        group: d.group,
        deployment: d.id,
        available: key !== undefined && until === undefined,
        // Always a valid date: every cooldown is capped at MAX_COOLDOWN_MS (router/cooldown.ts).
        ...(until !== undefined && { cooldown_until: new Date(until).toISOString() }),
        ...(latency !== undefined && { latency_ms: Math.round(latency) }),
        ...(key === undefined && { reason: 'no credentials' as const }),
      };
    });
  }

  /** The deployment's key, clearing an auth cooldown that an older key earned. */
  private currentKey(d: Deployment): string | null | undefined {
    const key = this.deps.keyFor(d);
    if (this.rejectedKeys.has(d.id) && this.rejectedKeys.get(d.id) !== key) {
      this.rejectedKeys.delete(d.id);
      this.cooldowns.clear(d.id);
    }
    return key;
  }

  /** The group's attempts (`1 + num_retries`); undefined when none answered or the caller went away. */
  private async runGroup<T>(
    group: string,
    input: RouteInput,
    attempts: Attempt[],
    how: AttemptKind<T>,
  ): Promise<Answered<T> | undefined> {
    const { settings } = this.deps.config;
    const { deadline } = input;
    const deployments = this.deps.config.groups.get(group) ?? [];
    const keys = new Map(deployments.map((d) => [d.id, this.currentKey(d)]));
    const tries = new Map<string, number>(); // attempts per deployment in this request
    const excluded = new Set<string>(); // not again in this request (rejected, not found, key, quota, x-should-retry)
    // Rejections count against their deployment only once another deployment of the group answers the request.
    const rejections: { id: string; at: number }[] = [];
    let rateLimited: { deployment: Deployment; retryAfterMs: number } | undefined;
    let deadlineHit = false;

    for (let n = 0; n < 1 + settings.numRetries; n++) {
      if (how.signal?.aborted) return undefined;
      const usable = deployments.filter(
        (d) => keys.get(d.id) !== undefined && !excluded.has(d.id) && this.cooldowns.cooldownUntil(d.id) === undefined,
      );
      let pick: Deployment | undefined;
      let waitMs = 0;
      if (usable.length > 0) {
        const untried = usable.filter((d) => !tries.has(d.id));
        pick = selectDeployment(
          untried.length ? untried : usable,
          settings.routingStrategy,
          this.stats,
          this.random,
          how.latency,
        )!;
        const previous = tries.get(pick.id) ?? 0;
        if (previous > 0) waitMs = backoffMs(previous, this.random);
      } else if (rateLimited && rateLimited.retryAfterMs < deadline.remaining()) {
        // The one exception to cooldown: this request's own 429, when nothing else is left. Its
        // Retry-After is a floor: a retry of the same deployment still waits at least its backoff.
        pick = rateLimited.deployment;
        waitMs = Math.max(rateLimited.retryAfterMs, backoffMs(tries.get(pick.id) ?? 1, this.random));
        rateLimited = undefined;
      } else {
        break;
      }
      if (waitMs >= deadline.remaining()) {
        deadlineHit = true;
        break;
      }
      if (waitMs > 0) await this.pause(waitMs, how.signal);
      if (how.signal?.aborted) return undefined;

      tries.set(pick.id, (tries.get(pick.id) ?? 0) + 1);
      const key = keys.get(pick.id)!;
      const started = this.now();
      const result = await how.run(pick, key);
      if (!(result instanceof ProviderError)) {
        attempts.push({ group, deployment: pick.id, outcome: 'ok' });
        for (const r of rejections) {
          this.cooldowns.recordFailure(r.id);
          this.stats.failed(r.id, r.at);
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
      this.account(pick, key, failure, failure.timeout ? this.now() - started : undefined, how.latency);
      if (failure.kind === 'rejected') {
        // Counted, if at all, as of when it arrived: a success of that deployment after it still wins.
        if (!failure.contextLength) rejections.push({ id: pick.id, at: this.now() });
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
          : this.cooldowns.cooldownUntil(d.id) !== undefined
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
  private account(
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
        this.cooldowns.recordLastingFailure(d.id);
        this.rejectedKeys.set(d.id, key);
        break;
      case 'quota':
        this.cooldowns.recordLastingFailure(d.id);
        break;
      case 'not_found':
        this.cooldowns.recordNotFound(d.id);
        break;
      case 'rate_limited':
        this.cooldowns.recordRateLimit(d.id, failure.retryAfterMs);
        break;
      case 'retryable':
        this.cooldowns.recordFailure(d.id);
        break;
    }
    this.stats.failed(d.id, this.now(), timedOutAfterMs, latency);
  }

  /** One call to one deployment, bounded by its timeout and the request's deadline. */
  private async attempt(d: Deployment, key: string | null, input: RouteInput): Promise<ProviderAnswer | ProviderError> {
    const started = this.now();
    const controller = new AbortController();
    const cancelTimer = this.setTimer(Math.max(1, input.deadline.clamp(d.timeoutMs)), () => controller.abort());
    this.stats.callStarted(d.id);
    try {
      const answer = await this.deps.providerFor(d, key).complete({
        model: d.model,
        messages: input.messages,
        maxTokens: input.maxTokens,
        temperature: input.temperature,
        signal: controller.signal,
      });
      this.stats.succeeded(d.id, this.now() - started);
      return answer;
    } catch (err) {
      if (controller.signal.aborted) return new ProviderError({ kind: 'retryable', timeout: true });
      return err instanceof ProviderError ? err : new ProviderError({ kind: 'retryable', code: 'adapter_error' });
    } finally {
      this.stats.callEnded(d.id);
      cancelTimer();
    }
  }

  /** One streamed call to one deployment, answered at its first piece; how it ends is counted as it ends. */
  private streamAttempt(
    d: Deployment,
    key: string | null,
    input: StreamRouteInput,
  ): Promise<OpenStream | ProviderError> {
    this.stats.callStarted(d.id);
    return openStream({
      provider: this.deps.providerFor(d, key),
      call: { model: d.model, messages: input.messages, maxTokens: input.maxTokens, temperature: input.temperature },
      firstPieceWithinMs: input.deadline.clamp(d.timeoutMs),
      deadline: input.deadline,
      signal: input.signal,
      now: this.now,
      setTimer: this.setTimer,
      accounting: {
        firstPiece: (ttftMs) => this.stats.succeeded(d.id, ttftMs, 'first-token'),
        ended: () => this.stats.succeeded(d.id),
        // Past the first piece the request was evidently fine: even a rejection is the deployment's failure.
        failed: (failure) =>
          this.account(
            d,
            key,
            failure.kind === 'rejected' ? { ...failure, kind: 'retryable' } : failure,
            undefined,
            'first-token',
          ),
        closed: () => this.stats.callEnded(d.id),
      },
    });
  }

  /** A backoff or Retry-After wait, cut short when the caller goes away. */
  private async pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return this.sleep(ms);
    let onAbort = () => {};
    const gone = new Promise<void>((resolve) => (onAbort = resolve));
    signal.addEventListener('abort', onAbort, { once: true });
    await Promise.race([this.sleep(ms), gone]);
    signal.removeEventListener('abort', onAbort);
  }
}
