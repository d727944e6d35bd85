// The LLM router: picks deployments of a model group, retries, cools down failing ones, and falls back.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, RouterConfig } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import type { ChatMessage } from '../../common/complete-contract.ts';
import type { Provider, ProviderAnswer } from '../providers/provider.ts';
import { CooldownTracker } from './cooldown.ts';
import { ProviderError, type FailureInfo } from '../providers/failure.ts';
import { account, routeWith, type RouterState } from './attempts.ts';
import { DeploymentStats } from './selection.ts';
import { openStream, type OpenStream, type SetTimer, type StreamRouteResult } from './stream.ts';

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

export interface DeploymentHealth {
  group: string;
  deployment: string;
  available: boolean;
  cooldown_until?: string;
  latency_ms?: number;
  reason?: 'no credentials';
}

export class Router {
  private readonly state: RouterState;
  private readonly cooldowns: CooldownTracker;
  private readonly stats: DeploymentStats;
  private readonly now: () => number;
  private readonly setTimer: SetTimer;

  constructor(private readonly deps: RouterDeps) {
    this.now = deps.now ?? (() => Date.now()); // looked up per call: a Date.now replaced later still applies
    this.setTimer =
      deps.setTimer ??
      ((ms, fire) => {
        const timer = setTimeout(fire, ms);
        return () => clearTimeout(timer);
      });
    this.stats = new DeploymentStats(this.now);
    this.cooldowns = new CooldownTracker(deps.config.settings.allowedFails, deps.config.settings.cooldownMs, this.now);
    const rejectedKeys = new Map<string, string | null>();
    this.state = {
      config: deps.config,
      stats: this.stats,
      cooldowns: this.cooldowns,
      rejectedKeys,
      now: this.now,
      random: deps.random ?? Math.random,
      sleep: deps.sleep ?? ((ms) => sleep(ms)),
      currentKey: (d) => {
        const key = deps.keyFor(d);
        if (rejectedKeys.has(d.id) && rejectedKeys.get(d.id) !== key) {
          rejectedKeys.delete(d.id);
          this.cooldowns.clear(d.id);
        }
        return key;
      },
    };
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
    return routeWith(this.state, input, {
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
    const routed = await routeWith(this.state, input, {
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

  /** The router's in-memory view for GET /health; calls no provider. */
  health(): DeploymentHealth[] {
    return this.deps.config.deployments.map((d) => {
      const key = this.state.currentKey(d);
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
          account(
            this.state,
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
}
