// The shape of `Router.routeStream` as the streaming API calls it, declared here until the router's own lands
// (then this module goes, and `StreamRouteResult` is imported from router/router.ts).
import type { Deployment } from './config.ts';
import type { StreamPiece } from './providers/provider.ts';
import type { Attempt, RouteInput } from './router/router.ts';

export type StreamRouteResult =
  | {
      ok: true;
      deployment: Deployment;
      group: string;
      /** Every attempt made, as `route` reports them (the answering one `ok`). */
      attempts: Attempt[];
      /** The pieces read while choosing: the first content or refusal piece is the last of them. */
      head: StreamPiece[];
      /**
       * The rest of the answer. Ends normally after the `end` piece. A failure after the first piece is
       * thrown as ProviderError (timeout: true at the request's deadline), is not retried, and the router
       * has already counted it against the deployment. Breaking out (`return()`) closes the provider call.
       */
      rest: AsyncIterable<StreamPiece>;
      /** From the answering attempt's start to its first piece, ms (the router's clock). */
      ttftMs: number;
    }
  | { ok: false; attempts: Attempt[]; retryAfterS?: number };

declare module './router/router.ts' {
  interface Router {
    /** `input.signal` (optional): the caller went away — abort whatever provider call is running, at once. */
    routeStream(input: RouteInput & { signal?: AbortSignal }): Promise<StreamRouteResult>;
  }
}
