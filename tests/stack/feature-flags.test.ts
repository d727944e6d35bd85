// cdk.json sets the feature flags CDK recommends for a new app, and the template change they cause is the reviewed one.
import recommended from 'aws-cdk-lib/recommended-feature-flags.json' with { type: 'json' };
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { KonstructStack, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { appFactory, CDK_JSON_CONTEXT, NO_BUNDLING } from './cdk-app.ts';

const newApp = appFactory('flags');
type Resource = { Type: string; Properties?: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The flags cdk.json set before it took the recommended ones: the template the diff is measured from. */
const PREVIOUS_FLAGS = {
  '@aws-cdk/aws-lambda:recognizeLayerVersion': true,
  '@aws-cdk/core:checkSecretUsage': true,
  '@aws-cdk/aws-iam:minimizePolicies': true,
};

function resources(props: KonstructStackProps, previous: boolean): Record<string, Resource> {
  const app = previous ? newApp({ ...NO_BUNDLING, ...PREVIOUS_FLAGS }, { withoutCdkJson: true }) : newApp(NO_BUNDLING);
  const stack = new KonstructStack(app, 'Konstruct', {
    env: { account: '111111111111', region: 'us-east-1' },
    ...props,
  });
  const all = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  // CDK's own usage metadata records the flags themselves; it is not part of what deploys.
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type !== 'AWS::CDK::Metadata'));
}

/** What the flags change: resources added, removed and changed, by logical id (with type). */
function flagDiff(props: KonstructStackProps = {}) {
  const before = resources(props, true);
  const after = resources(props, false);
  const label = (id: string, r: Resource) => `${r.Type} ${id}`;
  return {
    before,
    after,
    added: Object.keys(after)
      .filter((id) => !(id in before))
      .map((id) => label(id, after[id]!)),
    removed: Object.keys(before)
      .filter((id) => !(id in after))
      .map((id) => label(id, before[id]!)),
    changed: Object.keys(after)
      .filter((id) => id in before && JSON.stringify(before[id]) !== JSON.stringify(after[id]))
      .map((id) => label(id, after[id]!)),
  };
}

describe('feature flags', () => {
  it('cdk.json sets every flag the installed aws-cdk-lib recommends for a new app, at its recommended value', () => {
    const set = Object.fromEntries(Object.keys(recommended).map((flag) => [flag, CDK_JSON_CONTEXT[flag]]));
    expect(set).toEqual(recommended);
  });

  it("change the new-VPC stack by a unique RDS Proxy name, a locked-down default security group, the rotated secrets' policies on the secrets and a literal partition, nothing else", () => {
    const { before, after, added, removed, changed } = flagDiff();
    // The hosted rotation's policy (no one deletes a rotated secret) moves from each secret's attachment to
    // the secret itself, with the same statement. Rotation came in the same change as the flags, so no
    // deployed stack has the attachment's policy to replace.
    expect(removed.sort()).toEqual([
      expect.stringMatching(/^AWS::SecretsManager::ResourcePolicy DatabaseAppSecretAttachmentPolicy/),
      expect.stringMatching(/^AWS::SecretsManager::ResourcePolicy DatabaseClusterSecretAttachmentPolicy/),
    ]);
    const secretPolicies = Object.values(after).filter((r) => r.Type === 'AWS::SecretsManager::ResourcePolicy');
    expect(secretPolicies.map((r) => r.Properties!.ResourcePolicy.Statement)).toEqual([
      [expect.objectContaining({ Effect: 'Deny', Action: 'secretsmanager:DeleteSecret' })],
      [expect.objectContaining({ Effect: 'Deny', Action: 'secretsmanager:DeleteSecret' })],
    ]);
    expect(changed.sort()).toEqual([
      expect.stringMatching(/^AWS::KMS::Key AlarmsTopicKey/),
      expect.stringMatching(/^AWS::RDS::DBProxy /),
    ]);
    // The proxy's name was the literal `Proxy`: a second stack in the account collided with the first.
    const proxy = Object.values(after).find((r) => r.Type === 'AWS::RDS::DBProxy')!;
    expect(proxy.Properties!.DBProxyName).toMatch(/^KonstructDatabaseClusterProxy[0-9A-F]{8}$/);
    // The alarm key's policy names the account root with the region's known partition instead of a
    // reference: the same principal.
    const rootPrincipal = (resources: Record<string, Resource>) =>
      Object.values(resources).find((r) => r.Type === 'AWS::KMS::Key')!.Properties!.KeyPolicy.Statement[0].Principal;
    expect(rootPrincipal(before)).toEqual({
      AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:root']] },
    });
    expect(rootPrincipal(after)).toEqual({ AWS: 'arn:aws:iam::111111111111:root' });
    // The new VPC's default security group loses its rules (nothing uses it; a resource that falls back
    // to it gets no access by accident).
    expect(added.sort()).toEqual([
      expect.stringMatching(/^AWS::IAM::Role CustomVpcRestrictDefaultSGCustomResourceProviderRole/),
      expect.stringMatching(/^AWS::Lambda::Function CustomVpcRestrictDefaultSGCustomResourceProviderHandler/),
      expect.stringMatching(/^AWS::SecretsManager::ResourcePolicy DatabaseAppSecretPolicy/),
      expect.stringMatching(/^AWS::SecretsManager::ResourcePolicy DatabaseClusterSecretPolicy/),
      expect.stringMatching(/^Custom::VpcRestrictDefaultSG NetworkVpcRestrictDefaultSecurityGroupCustomResource/),
    ]);
  });

  it("change an existing-database, existing-VPC stack only by the alarm key policy's partition", () => {
    const diff = flagDiff({
      existingVpc: {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['us-east-1a'],
        privateSubnetIds: ['subnet-0123456789abcdef0'],
      },
      databaseSecretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf',
      databaseHost: 'db.example.internal',
    });
    expect({ added: diff.added, removed: diff.removed, changed: diff.changed }).toEqual({
      added: [],
      removed: [],
      changed: [expect.stringMatching(/^AWS::KMS::Key AlarmsTopicKey/)],
    });
  });
});
