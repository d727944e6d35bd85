// The router configuration deployed with `-c llmConfig`: validated at synth by the loader `complete` runs,
// copied into its bundle, and read for what the stack must set up (variables, Bedrock models, Ollama).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { platform } from 'node:os';
import { extname, join, resolve } from 'node:path';
import type { ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../functions/complete/config.ts';
import { parseConfigText } from '../functions/complete/config-text.ts';
import { BEDROCK_ARN, isBedrock, type BedrockDeployment } from './bedrock-access.ts';

/** A configuration the stack cannot deploy; the message says what to fix. */
export class LlmConfigError extends Error {
  override name = 'LlmConfigError';
}

export interface StackLlmConfig {
  /** The file, as an absolute path. */
  readonly path: string;
  /** Its name in the bundle, `llm-config` with the file's own extension (which tells YAML from JSON). */
  readonly bundledName: string;
  /** The Bedrock deployments, for the grants. */
  readonly bedrock: BedrockDeployment[];
  /** The non-key `os.environ/NAME` values the file uses, as the deploying shell has them. */
  readonly environment: Record<string, string>;
  /** Ollama deployments without `api_base` in the file (they use the stack's Ollama endpoint), as "id (group g)". */
  readonly ollamaWithoutBase: string[];
  /** The file's SHA-256, so that a changed file changes the bundle's cache key. */
  readonly sha256: string;
}

/** Variables Lambda reserves: a function that sets one is refused at deploy time, so synth refuses it first. */
const LAMBDA_RESERVED = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

const ENV_REF = 'os.environ/';
const FIX_HINT = 'Fix the file given with -c llmConfig, or leave the flag out to deploy the built-in defaults.';

const invalid = (path: string, field: string, problem: string) =>
  new LlmConfigError(`LLM_CONFIG (${path}) is invalid:\n  - ${field}: ${problem}\n${FIX_HINT}`);

/**
 * A Bedrock deployment's `model` and `aws_region_name` must be written in the file: the grants are scoped
 * to them at synth, so a value read from a variable could point the function at a model it may not call.
 */
function requireLiteralBedrockFields(raw: unknown, env: NodeJS.ProcessEnv, path: string): void {
  const entries = (raw as { model_list?: unknown })?.model_list;
  if (!Array.isArray(entries)) return;
  entries.forEach((entry, i) => {
    const params = (entry as { litellm_params?: Record<string, unknown> })?.litellm_params;
    const model = params?.model;
    if (typeof model !== 'string') return;
    const fromEnv = model.startsWith(ENV_REF);
    const resolved = fromEnv ? (env[model.slice(ENV_REF.length)] ?? '') : model;
    if (!resolved.startsWith('bedrock/')) return;
    const field = `model_list[${i}].litellm_params`;
    const literal = 'must be written in the file for a Bedrock deployment, not os.environ/… (the stack scopes';
    if (fromEnv) throw invalid(path, `${field}.model`, `${literal} complete's Bedrock permissions to the model)`);
    const region = params?.aws_region_name;
    if (typeof region === 'string' && region.startsWith(ENV_REF)) {
      throw invalid(path, `${field}.aws_region_name`, `${literal} complete's Bedrock permissions to the region)`);
    }
  });
}

/**
 * Reads the file given with `-c llmConfig` as `complete` will at start-up (`load`, given the deploying
 * shell's `env` for its `os.environ/` values) and what the stack derives from it. A relative path is
 * taken from the directory cdk runs in.
 */
export function readLlmConfig(
  path: string,
  env: NodeJS.ProcessEnv,
  load: (path: string, env: NodeJS.ProcessEnv) => LoadedConfig = loadConfigFile,
): StackLlmConfig {
  const absolute = resolve(path);
  let loaded: LoadedConfig;
  try {
    loaded = load(absolute, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new LlmConfigError(`${err.message}\n${FIX_HINT}`);
    throw err;
  }
  const text = readFileSync(absolute);
  const extension = extname(absolute).toLowerCase();
  requireLiteralBedrockFields(parseConfigText(text.toString('utf8'), /^\.ya?ml$/.test(extension)), env, absolute);

  const { deployments } = loaded.config;
  // Keys come from the provider secret in AWS; never put one on the function, whatever the loader reports.
  const keyNames = new Set(deployments.flatMap((d) => (d.key.kind === 'env' ? [d.key.name] : [])));
  const environment = Object.fromEntries(
    Object.entries(loaded.environment ?? {}).filter(([name]) => !keyNames.has(name)),
  );
  const reserved = Object.keys(environment).find((name) => LAMBDA_RESERVED.has(name));
  if (reserved) {
    throw new LlmConfigError(
      `LLM_CONFIG (${absolute}) uses os.environ/${reserved}, a variable Lambda reserves: the function cannot have it. Name another variable in the file.`,
    );
  }
  const bedrock = deployments.filter(isBedrock);
  const foreignArn = bedrock.find((d) => d.model.startsWith('arn:') && !BEDROCK_ARN.test(d.model));
  if (foreignArn) {
    throw new LlmConfigError(
      `LLM_CONFIG (${absolute}): the Bedrock deployment ${foreignArn.id} (group ${foreignArn.group}) names an ARN that is not an Amazon Bedrock one (arn:<partition>:bedrock:<region>:<account>:<kind>/<id>).\n${FIX_HINT}`,
    );
  }
  return {
    path: absolute,
    bundledName: `llm-config${extension || '.json'}`,
    bedrock,
    environment,
    ollamaWithoutBase: deployments
      .filter((d) => d.provider === 'ollama' && !d.apiBaseFromFile)
      .map((d) => `${d.id} (group ${d.group})`),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Copies the configuration file into `complete`'s bundle after esbuild. Its fields take part in the
 * asset cache key (CDK reuses a bundle whose bundling options serialize alike), so two files never share one.
 */
export class BundledConfigFile implements ICommandHooks {
  readonly source: string;
  readonly bundledName: string;
  readonly sha256: string;

  constructor(config: StackLlmConfig) {
    this.source = config.path;
    this.bundledName = config.bundledName;
    this.sha256 = config.sha256;
  }

  beforeBundling(): string[] {
    return [];
  }

  beforeInstall(): string[] {
    return [];
  }

  afterBundling(_inputDir: string, outputDir: string): string[] {
    const target = join(outputDir, this.bundledName);
    return [
      platform() === 'win32'
        ? `copy /y "${this.source}" "${target}"`
        : `cp ${shellQuote(this.source)} ${shellQuote(target)}`,
    ];
  }
}
