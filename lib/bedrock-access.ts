// What `complete` may invoke on Amazon Bedrock, derived from the configured Bedrock deployments: the
// IAM resources of exactly those models (and inference profiles), and the private way to the runtime API.
import {
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  type IVpc,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The parts of a configured deployment the grants depend on (a `Deployment` of `complete`'s configuration). */
export interface BedrockDeployment {
  readonly provider: string;
  /** The model id after `bedrock/`: a foundation model, a cross-Region inference profile, or an ARN. */
  readonly model: string;
  readonly params: { readonly region?: string };
}

/** Where the stack is deployed: the partition and account of the ARNs, the region of deployments without one. */
export interface BedrockScope {
  readonly partition: string;
  readonly account: string;
  readonly region: string;
}

/** One IAM statement's resources, and the condition under which they are granted (if any). */
export interface BedrockGrant {
  readonly resources: string[];
  readonly conditions?: Record<string, Record<string, string>>;
}

export const BEDROCK_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];

/**
 * Geography prefixes of the cross-Region (system-defined) inference profiles and the Regions each routes
 * to, per AWS's "Supported Regions and models for inference profiles"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html) and
 * "Geographic cross-Region inference"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html): a
 * geographic profile needs the foundation model granted in every destination Region of the geography.
 * Each list is the union over the models AWS lists for that geography (one model may route to fewer);
 * a Region AWS adds later has to be added here.
 */
export const PROFILE_GEOGRAPHIES: Readonly<Record<string, readonly string[]>> = {
  us: ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'],
  'us-gov': ['us-gov-east-1', 'us-gov-west-1'],
  eu: ['eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3'],
  apac: [
    'ap-northeast-1',
    'ap-northeast-2',
    'ap-northeast-3',
    'ap-south-1',
    'ap-south-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-southeast-3',
    'ap-southeast-4',
  ],
  jp: ['ap-northeast-1', 'ap-northeast-3'],
  au: ['ap-southeast-2', 'ap-southeast-4'],
};

/**
 * A global profile (`global.<model>`) routes to any commercial Region; AWS's "Global cross-Region
 * inference" page (https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html)
 * grants it as the profile, the foundation model in the source Region and the Region-less foundation-model
 * ARN `arn:aws:bedrock:::foundation-model/<model>`.
 */
const GLOBAL_PREFIX = 'global';

export function isBedrock(d: { provider: string }): boolean {
  return d.provider === 'bedrock';
}

const arnPrefix = (scope: BedrockScope, region: string, account = '') =>
  `arn:${scope.partition}:bedrock:${region}:${account}`;
const foundationModel = (scope: BedrockScope, region: string, id: string) =>
  `${arnPrefix(scope, region)}:foundation-model/${id}`;

/** The geography prefix of a cross-Region inference profile id (`eu.anthropic.…` → `eu`), if it is one. */
export function profileGeography(id: string): string | undefined {
  const prefix = id.slice(0, Math.max(0, id.indexOf('.')));
  return prefix === GLOBAL_PREFIX || Object.hasOwn(PROFILE_GEOGRAPHIES, prefix) ? prefix : undefined;
}

/** The grants a cross-Region inference profile `id`, called from `region`, needs. */
function profileGrant(scope: BedrockScope, region: string, id: string, profileArn: string): BedrockGrant {
  const geography = profileGeography(id)!;
  const modelId = id.slice(geography.length + 1);
  const destinations =
    geography === GLOBAL_PREFIX
      ? [foundationModel(scope, region, modelId), foundationModel(scope, '', modelId)]
      : [region, ...PROFILE_GEOGRAPHIES[geography]!].map((r) => foundationModel(scope, r, modelId));
  return { resources: [...new Set([profileArn, ...destinations])] };
}

/** A Bedrock resource ARN: its region, the kind of resource and its id. */
export const BEDROCK_ARN = /^arn:[^:]+:bedrock:([^:]*):[^:]*:([a-z-]+)\/(.+)$/;

/** A Bedrock model given as an ARN (`bedrock/arn:aws:bedrock:…`), by the kind of resource it names. */
function arnGrants(scope: BedrockScope, arn: string): BedrockGrant[] {
  const match = BEDROCK_ARN.exec(arn);
  if (!match) throw new Error(`${arn} is not an Amazon Bedrock ARN (arn:<partition>:bedrock:<region>:…)`);
  const [, region, kind, id] = match as unknown as [string, string, string, string];
  if (kind === 'inference-profile' && profileGeography(id)) return [profileGrant(scope, region, id, arn)];
  if (kind !== 'application-inference-profile') return [{ resources: [arn] }];
  // An application inference profile's models are not known at synth (no lookups): the foundation models
  // are granted in any Region, but only for requests made through this profile.
  return [
    { resources: [arn] },
    {
      resources: [foundationModel(scope, '*', '*')],
      conditions: { StringEquals: { 'bedrock:InferenceProfileArn': arn } },
    },
  ];
}

/** The grants one Bedrock deployment needs: exactly its model, in its region (else the stack's). */
export function bedrockGrants(d: BedrockDeployment, scope: BedrockScope): BedrockGrant[] {
  if (d.model.startsWith('arn:')) return arnGrants(scope, d.model);
  const region = d.params.region ?? scope.region;
  if (profileGeography(d.model)) {
    const profileArn = `${arnPrefix(scope, region, scope.account)}:inference-profile/${d.model}`;
    return [profileGrant(scope, region, d.model, profileArn)];
  }
  return [{ resources: [foundationModel(scope, region, d.model)] }];
}

/** The IAM statements for all Bedrock deployments: unconditional resources in one, deduplicated. */
export function bedrockStatements(deployments: readonly BedrockDeployment[], scope: BedrockScope): PolicyStatement[] {
  const grants = deployments.filter(isBedrock).flatMap((d) => bedrockGrants(d, scope));
  const plain = [...new Set(grants.filter((g) => !g.conditions).flatMap((g) => g.resources))];
  const statements = grants
    .filter((g) => g.conditions)
    .map(
      (g) => new PolicyStatement({ actions: BEDROCK_INVOKE_ACTIONS, resources: g.resources, conditions: g.conditions }),
    );
  if (plain.length) statements.unshift(new PolicyStatement({ actions: BEDROCK_INVOKE_ACTIONS, resources: plain }));
  return statements;
}

export interface BedrockAccessProps {
  readonly vpc: IVpc;
  readonly grantee: IGrantable;
  /** The security group of the only client the endpoint admits. */
  readonly clientSecurityGroup: SecurityGroup;
  readonly deployments: readonly BedrockDeployment[];
  readonly scope: BedrockScope;
}

/**
 * The grants of the configured Bedrock deployments, and a `bedrock-runtime` interface endpoint (private
 * DNS, so the SDK's regional host resolves to it) in the private subnets that admits only the client.
 */
export class BedrockAccess extends Construct {
  constructor(scope: Construct, id: string, props: BedrockAccessProps) {
    super(scope, id);
    for (const statement of bedrockStatements(props.deployments, props.scope)) {
      props.grantee.grantPrincipal.addToPrincipalPolicy(statement);
    }
    const securityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: props.vpc,
      description: 'Bedrock runtime endpoint: only the complete function may connect',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(
      Peer.securityGroupId(props.clientSecurityGroup.securityGroupId),
      Port.tcp(443),
      'complete to Bedrock runtime',
    );
    new InterfaceVpcEndpoint(this, 'Endpoint', {
      vpc: props.vpc,
      service: InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
      subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      privateDnsEnabled: true,
      open: false,
    });
  }
}
