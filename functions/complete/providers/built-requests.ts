// Reuses what a Stainless SDK client (openai) builds for every call alike — its URL and headers — once the SDK has built them twice the same.
//
// Building a request is about half of the `openai` SDK's CPU per call: a `Headers` object merged from five
// layers and validated, a URL parsed and printed. For one client (one deployment, one key) and one
// endpoint these come out identical on every call; only the body differs. The SDK still builds them —
// the first two times, and whenever a call carries anything of its own (headers, query, timeout,
// idempotency key, fetch options) — and they are reused only after two builds agreed and the body was
// plain JSON, so a header that changes per call (a retry count, an idempotency key) is never frozen.

/** What the SDK's `buildRequest` returns, as far as the reuse reads it. */
interface Built {
  req: { method?: string; headers?: unknown; body?: unknown; signal?: AbortSignal | null };
  url: string;
  timeout: number;
}

/** The fields of the SDK's request options the reuse looks at. */
interface Options {
  method: string;
  path: string;
  body?: unknown;
  query?: unknown;
  headers?: unknown;
  timeout?: number;
  idempotencyKey?: string;
  fetchOptions?: unknown;
  defaultBaseURL?: string;
  signal?: AbortSignal | null;
}

type Entry =
  | { state: 'seen'; url: string; headers: Record<string, string> }
  | { state: 'reused'; url: string; headers: Record<string, string> }
  | { state: 'never' };

const REQUEST_KEYS = new Set(['method', 'headers', 'body', 'signal']);

function plainHeaders(headers: unknown): Record<string, string> | undefined {
  if (!(headers instanceof Headers)) return undefined;
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return out;
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** One per client: its URL and headers per endpoint, as the SDK built them. */
export class BuiltRequests {
  readonly #entries = new Map<string, Entry>();

  /**
   * The request for `options`: from the SDK (`build`) until its URL and headers for this endpoint are
   * known to be the same on every call, then from those with this call's body and signal.
   */
  async build<T extends Built>(
    options: Options,
    retryCount: number,
    timeout: number,
    build: () => Promise<T>,
  ): Promise<T> {
    const plain =
      options.query == null &&
      options.headers == null &&
      options.timeout === undefined &&
      options.idempotencyKey === undefined &&
      options.fetchOptions === undefined &&
      typeof options.body === 'object' &&
      options.body !== null &&
      Object.getPrototypeOf(options.body) === Object.prototype;
    if (!plain) return build();
    const key = `${options.method} ${options.path} ${options.defaultBaseURL ?? ''} ${retryCount}`;
    const entry = this.#entries.get(key);
    if (entry?.state === 'reused') {
      const req: Built['req'] = { method: options.method, headers: entry.headers };
      if (options.signal) req.signal = options.signal;
      req.body = JSON.stringify(options.body);
      return { req, url: entry.url, timeout } as T;
    }
    const built = await build();
    if (entry?.state === 'never') return built;
    const headers = plainHeaders(built.req.headers);
    const reusable =
      headers !== undefined &&
      built.timeout === timeout &&
      built.req.method === options.method &&
      built.req.body === JSON.stringify(options.body) &&
      Object.keys(built.req).every((k) => REQUEST_KEYS.has(k));
    if (!reusable) this.#entries.set(key, { state: 'never' });
    else if (!entry) this.#entries.set(key, { state: 'seen', url: built.url, headers });
    else if (entry.url === built.url && sameHeaders(entry.headers, headers))
      this.#entries.set(key, { state: 'reused', url: built.url, headers });
    else this.#entries.set(key, { state: 'never' });
    return built;
  }
}
