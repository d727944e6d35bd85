// The Konstruct LLM core stack: composes the LLM pool (and, as they land, the message pipeline and database).
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LlmPool, type LlmPoolProps } from './llm-pool.ts';

export interface KonstructStackProps extends StackProps {
  readonly llmPool?: LlmPoolProps;
}

export class KonstructStack extends Stack {
  readonly llmPool: LlmPool;

  constructor(scope: Construct, id: string, props: KonstructStackProps = {}) {
    super(scope, id, props);
    this.llmPool = new LlmPool(this, 'LlmPool', props.llmPool);
  }
}
