// A stand-in for `Router.routeStream` with the router's shape, scripted per test, until the router streams
// itself: what the streaming API does with an answer is tested here, not how the router finds one.
import type { StreamRouteResult } from '../../functions/complete/router/router.ts';
import { ProviderError } from '../../functions/complete/providers/failure.ts';
import type { StreamPiece } from '../../functions/complete/providers/provider.ts';
import type { Attempt, RouteInput, Router } from '../../functions/complete/router/router.ts';

export type StreamScript =
  | {
      /** The deployment that answers (its group is the one the router's configuration gives it). */
      deployment: string;
      /** Attempts that failed before it answered. */
      failedFirst?: Attempt[];
      pieces: StreamPiece[];
      /** After the pieces: nothing more (they include the end), a provider failure, or a hang until aborted or the deadline. */
      then?: 'fail' | 'hang';
      /** Holds the pieces after the first until it resolves, as a provider that has not sent them yet. */
      holdRest?: Promise<void>;
    }
  | { unavailable: Attempt[]; retryAfterS?: number };

export interface StreamDouble {
  /** Set the answer of the next calls. */
  script(script: StreamScript): void;
  /** Each call's input, with the signal it was given. */
  readonly calls: (RouteInput & { signal?: AbortSignal })[];
  /** Resolves when the provider call behind the stream has closed (ended, failed, broken out of or aborted). */
  closed(): Promise<void>;
}

/** Replaces `router.routeStream` on this router instance. */
export function doubleRouteStream(router: Router): StreamDouble {
  let current: StreamScript = { unavailable: [] };
  const calls: StreamDouble['calls'] = [];
  let markClosed!: () => void;
  let closed = new Promise<void>((resolve) => (markClosed = resolve));

  router.routeStream = async (input): Promise<StreamRouteResult> => {
    calls.push(input);
    const script = current;
    if ('unavailable' in script) return { ok: false, attempts: script.unavailable, retryAfterS: script.retryAfterS };
    const { then, holdRest } = script;
    const groups = (router['deps'] as { config: { groups: Map<string, { id: string; group: string }[]> } }).config
      .groups;
    const deployment = [...groups.values()].flat().find((d) => d.id === script.deployment)!;
    const first = script.pieces.findIndex((p) => p.type !== 'end') + 1;
    const head = script.pieces.slice(0, first);
    const tail = script.pieces.slice(first);
    closed = new Promise<void>((resolve) => (markClosed = resolve));
    async function* rest(): AsyncGenerator<StreamPiece> {
      try {
        await holdRest;
        yield* tail;
        if (then === 'fail') throw new ProviderError({ kind: 'retryable', status: 500 });
        if (then === 'hang') {
          await new Promise<void>((_, reject) => {
            const fail = () => reject(new ProviderError({ kind: 'retryable', timeout: true }));
            const timer = setTimeout(fail, input.deadline.remaining());
            input.signal?.addEventListener('abort', () => (clearTimeout(timer), fail()), { once: true });
          });
        }
      } finally {
        markClosed();
      }
    }
    return {
      ok: true,
      deployment: deployment as never,
      group: deployment.group,
      attempts: [
        ...(script.failedFirst ?? []),
        { group: deployment.group, deployment: deployment.id, outcome: 'ok' as const },
      ],
      head,
      rest: rest(),
      ttftMs: 7,
    };
  };

  return {
    script: (script) => (current = script),
    calls,
    closed: () => closed,
  };
}
