// The Bedrock resources a configured deployment may invoke, derived from its model id and region alone.
import { describe, expect, it } from 'vitest';
import { bedrockGrants, PROFILE_GEOGRAPHIES, profileGeography } from '../../lib/bedrock-access.ts';

const scope = { partition: 'aws', account: '123456789012', region: 'eu-west-1' };
const bedrock = (model: string, region?: string) => ({ provider: 'bedrock', model, params: region ? { region } : {} });
const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;

describe('cross-Region inference profiles', () => {
  it('are told by their geography prefix, and a foundation model id is not one', () => {
    expect(profileGeography('us.anthropic.claude-sonnet-4-20250514-v1:0')).toBe('us');
    expect(profileGeography('us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0')).toBe('us-gov');
    expect(profileGeography('apac.amazon.nova-lite-v1:0')).toBe('apac');
    expect(profileGeography('global.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe('global');
    expect(profileGeography('anthropic.claude-3-haiku-20240307-v1:0')).toBeUndefined();
    expect(profileGeography('constructor.x')).toBeUndefined();
  });

  it('grant the profile in the calling region and the model in every Region of the geography', () => {
    const [grant, ...rest] = bedrockGrants(bedrock('us.amazon.nova-pro-v1:0', 'us-east-2'), scope);
    expect(rest).toEqual([]);
    expect(grant!.conditions).toBeUndefined();
    expect([...grant!.resources].sort()).toEqual(
      [
        'arn:aws:bedrock:us-east-2:123456789012:inference-profile/us.amazon.nova-pro-v1:0',
        ...PROFILE_GEOGRAPHIES.us!.map((r) => fm(r, 'amazon.nova-pro-v1:0')),
      ].sort(),
    );
  });

  it('grant a global profile, the model in the calling region and the Region-less model ARN AWS documents', () => {
    const id = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
    expect(bedrockGrants(bedrock(`global.${id}`), scope)).toEqual([
      {
        resources: [
          `arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.${id}`,
          fm('eu-west-1', id),
          `arn:aws:bedrock:::foundation-model/${id}`,
        ],
      },
    ]);
  });
});

describe('a model given as an ARN', () => {
  it('grants a foundation-model or provisioned-model ARN as it is', () => {
    for (const arn of [
      fm('us-west-2', 'meta.llama3-70b-instruct-v1:0'),
      'arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123',
    ]) {
      expect(bedrockGrants(bedrock(arn), scope)).toEqual([{ resources: [arn] }]);
    }
  });

  it('grants a cross-Region profile ARN with its geography’s foundation models', () => {
    const arn = 'arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0';
    const [grant] = bedrockGrants(bedrock(arn), scope);
    expect(grant!.resources[0]).toBe(arn);
    expect(grant!.resources.slice(1).sort()).toEqual(
      PROFILE_GEOGRAPHIES.eu!.map((r) => fm(r, 'amazon.nova-lite-v1:0')),
    );
  });

  it('grants an application inference profile, and foundation models only through that profile', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
    expect(bedrockGrants(bedrock(arn), scope)).toEqual([
      { resources: [arn] },
      {
        resources: ['arn:aws:bedrock:*::foundation-model/*'],
        conditions: { StringEquals: { 'bedrock:InferenceProfileArn': arn } },
      },
    ]);
  });

  it('refuses an ARN of another service', () => {
    expect(() => bedrockGrants(bedrock('arn:aws:s3:::bucket/key'), scope)).toThrow(/not an Amazon Bedrock ARN/);
  });
});
