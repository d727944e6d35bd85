// The router configuration deployed with `-c llmConfig`: validated at synth by the loader `complete` runs,
// copied into its bundle, and read for what the stack must set up (variables, Bedrock models, Ollama).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { platform } from 'node:os';
import { extname, join, resolve } from 'node:path';
import type { ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../functions/complete/config.ts';
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
  /** The router's groups (model names), in the file's order. */
  readonly groups: string[];
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

const FIX_HINT = 'Fix the file given with -c llmConfig, or leave the flag out to deploy the built-in defaults.';

/**
 * Reads the file given with `-c llmConfig` with the loader `complete` runs at start-up (given the deploying
 * shell's `env` for its `os.environ/` values), so synth refuses what start-up would, in the same words
 * (a Bedrock `model` or `aws_region_name` read from a variable among them: the grants are scoped to them),
 * and what the stack derives from it. A relative path is taken from the directory cdk runs in.
 */
export function readLlmConfig(path: string, env: NodeJS.ProcessEnv): StackLlmConfig {
  const absolute = resolve(path);
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(absolute, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new LlmConfigError(`${err.message}\n${FIX_HINT}`);
    throw err;
  }
  const text = readFileSync(absolute);
  const extension = extname(absolute).toLowerCase();
  const { deployments } = loaded.config;
  // Keys come from the provider secret in AWS: a variable some deployment reads as its api_key stays off the
  // function even when another field of the file also reads it.
  const keyNames = new Set(deployments.flatMap((d) => (d.key.kind === 'env' ? [d.key.name] : [])));
  const environment = Object.fromEntries(Object.entries(loaded.environment).filter(([name]) => !keyNames.has(name)));
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
    groups: [...new Set(deployments.map((d) => d.group))],
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
