// At `npm start`, whether the deployments that need no key can be used from this machine: Ollama reachable
// with the model pulled, AWS credentials found for Bedrock. It only says so: the router never reads it.
//
// The probes live here, not in the provider descriptors: they serve the person at the terminal, run once
// per start and never in Lambda, where the function's role and private endpoints are the stack's business.
// `defaultProvider` is the default chain itself (`fromNodeProviderChain` of @aws-sdk/credential-providers wraps it).
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { Deployment } from '../functions/complete/config.ts';

/** How long one probe may take; they all run at once, so start-up waits at most this long for them. */
export const PROBE_TIMEOUT_MS = 1_500;

/** Whether a deployment looks usable from here, and when not, what is wrong and what to do. */
export type Readiness = { ok: true } | { ok: false; problem: string; todo: string };

export interface ProbeOptions {
  timeoutMs?: number;
  /** Finds AWS credentials as the AWS SDK would (its default chain); resolves to whether it found any. */
  findAwsCredentials?: (timeoutMs: number) => Promise<boolean>;
}

export interface Probes {
  /**
   * Whether the AWS SDK's default chain finds credentials; undefined (at once) when no deployment is on
   * Bedrock, so that no one waits for a chain that ends with a metadata-service lookup for nothing.
   */
  awsCredentials: Promise<boolean | undefined>;
  /** The readiness of each deployment that can be probed, by deployment id; never rejects. */
  readiness: Promise<Map<string, Readiness>>;
}

/**
 * Starts every probe at once: one `GET /api/tags` per Ollama base URL (no model is called) and one lookup
 * of AWS credentials when a deployment is on Bedrock. Deployments of other providers are not probed.
 */
export function probeDeployments(deployments: readonly Deployment[], options: ProbeOptions = {}): Probes {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const findAwsCredentials = options.findAwsCredentials ?? awsCredentialsFound;
  // Compared as strings: Bedrock may not be among the registered providers of this build.
  const onBedrock = deployments.some((d) => (d.provider as string) === 'bedrock');
  const awsCredentials = onBedrock ? findAwsCredentials(timeoutMs).catch(() => false) : Promise.resolve(undefined);

  const tags = new Map<string, Promise<OllamaTags>>();
  const pending = deployments.map(async (d): Promise<[string, Readiness] | undefined> => {
    if (d.provider === 'ollama') {
      const base = d.apiBase.replace(/\/+$/, '');
      if (!tags.has(base)) tags.set(base, ollamaTags(base, timeoutMs));
      return [d.id, ollamaReadiness(d.model, base, await tags.get(base)!)];
    }
    if ((d.provider as string) === 'bedrock') {
      return [
        d.id,
        (await awsCredentials)
          ? { ok: true }
          : { ok: false, problem: 'has no AWS credentials', todo: 'run `aws configure`, or set AWS_PROFILE' },
      ];
    }
    return undefined;
  });
  const readiness = Promise.all(pending).then(
    (entries) => new Map(entries.filter((e): e is [string, Readiness] => e !== undefined)),
  );
  return { awsCredentials, readiness };
}

/** What Ollama's model list said: the models pulled (undefined when the list was unreadable), or why there is none. */
type OllamaTags = { reachable: true; models?: Set<string> } | { reachable: false; status?: number };

async function ollamaTags(base: string, timeoutMs: number): Promise<OllamaTags> {
  try {
    const response = await fetch(`${base}/api/tags`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return { reachable: false, status: response.status };
    }
    const list = ((await response.json()) as { models?: unknown }).models;
    if (!Array.isArray(list)) return { reachable: true };
    const names = list.flatMap((m: { name?: unknown; model?: unknown }) => [m?.name, m?.model]);
    return { reachable: true, models: new Set(names.filter((n): n is string => typeof n === 'string')) };
  } catch {
    // Refused, timed out, not JSON: there is no Ollama to use at this URL.
    return { reachable: false };
  }
}

function ollamaReadiness(model: string, base: string, tags: OllamaTags): Readiness {
  const pull = `\`ollama pull ${model}\``;
  if (!tags.reachable)
    return {
      ok: false,
      problem: `not reachable at ${shown(base)}${tags.status ? ` (it answered HTTP ${tags.status})` : ''}`,
      todo: `start Ollama (${pull})`,
    };
  // Ollama names a model pulled without a tag `<name>:latest`.
  const pulled = !tags.models || tags.models.has(model) || (!model.includes(':') && tags.models.has(`${model}:latest`));
  return pulled ? { ok: true } : { ok: false, problem: `not pulled at ${shown(base)}`, todo: `run ${pull}` };
}

/** Whether the AWS SDK's default credential chain finds credentials within `timeoutMs`; they are never kept. */
async function awsCredentialsFound(timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const found = defaultProvider()().then(
    (credentials: { accessKeyId?: string }) => Boolean(credentials.accessKeyId),
    () => false,
  );
  try {
    return await Promise.race([found, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** A URL as printed: without a password it may carry. */
function shown(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
