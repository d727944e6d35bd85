// Azure OpenAI Chat Completions over the `openai` SDK's Azure client: OpenAI's wire format at a deployment's URL, with Azure's own refusal.
import { APIError, AzureOpenAI } from 'openai';
import { BuiltRequests } from './built-requests.ts';
import { httpFetch } from './http-fetch.ts';
import { chatCompletionsProvider } from './openai.ts';
import type { Provider, ProviderAnswer, ProviderDescriptor } from './provider.ts';

/**
 * The `api-version` sent when the deployment names none (`litellm_params.api_version`). LiteLLM does not
 * require one either: it falls back to its own `AZURE_DEFAULT_API_VERSION`, which is this one, so a file
 * without `api_version` calls the API version it called under LiteLLM. Give `api_version` to pin another
 * (a GA version such as `2024-10-21`, or a newer preview).
 */
export const AZURE_DEFAULT_API_VERSION = '2025-02-01-preview';

type BuildRequest = AzureOpenAI['buildRequest'];

/**
 * The SDK's Azure client, reusing the URL and headers it builds alike for every call (built-requests.ts):
 * one client serves one deployment, named in the client, so the URL it builds never depends on the body.
 */
class AzureClient extends AzureOpenAI {
  readonly #built = new BuiltRequests();
  override buildRequest(...[options, extra]: Parameters<BuildRequest>): ReturnType<BuildRequest> {
    return this.#built.build(options, extra?.retryCount ?? 0, this.timeout, () => super.buildRequest(options, extra));
  }
}

/**
 * Azure's content management policy refusing the prompt: a 400 whose error code is `content_filter`
 * (its inner error `ResponsibleAIPolicyViolation`, with the `content_filter_result` per category). It is
 * the model's refusal, answered as one — `content_filter`, no content: Azure's message is its own text,
 * never passed on.
 */
export function contentFilterRefusal(err: unknown): ProviderAnswer | undefined {
  if (!(err instanceof APIError) || err.status !== 400) return undefined;
  const inner = (err.error as { innererror?: { code?: unknown } } | undefined)?.innererror;
  if (err.code !== 'content_filter' && inner?.code !== 'ResponsibleAIPolicyViolation') return undefined;
  return { content: '', usage: { prompt_tokens: null, completion_tokens: null }, finishReason: 'content_filter' };
}

export function azureProvider(options: {
  apiKey: string;
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  endpoint: string;
  /** The deployment's name (what follows `azure/`). */
  deployment: string;
  apiVersion: string;
}): Provider {
  const client = new AzureClient({
    apiKey: options.apiKey,
    // Given as `baseURL` (what the SDK builds from an endpoint) so that neither OPENAI_BASE_URL nor
    // AZURE_OPENAI_ENDPOINT, which the SDK would read, can move it.
    baseURL: `${options.endpoint.replace(/\/+$/, '')}/openai`,
    deployment: options.deployment,
    apiVersion: options.apiVersion,
    maxRetries: 0,
    fetch: httpFetch,
  });
  return chatCompletionsProvider(client, {
    maxTokensParameter: 'max_completion_tokens',
    answerInError: contentFilterRefusal,
  });
}

export const azure: ProviderDescriptor<'azure'> = {
  name: 'azure',
  prefixes: ['azure/'],
  credential: { secretField: 'azure_api_key', variable: 'AZURE_API_KEY' },
  // Each Azure resource has its own endpoint: there is no default to fall back on.
  pricePerMTok: () => undefined,
  check: (deployment) =>
    deployment.apiBaseFromFile
      ? undefined
      : {
          field: 'api_base',
          problem: 'Azure OpenAI needs its resource endpoint, e.g. https://<resource>.openai.azure.com',
        },
  create: (deployment, key) =>
    azureProvider({
      apiKey: key ?? '',
      endpoint: deployment.apiBase,
      deployment: deployment.model,
      apiVersion: deployment.params.apiVersion ?? AZURE_DEFAULT_API_VERSION,
    }),
};
