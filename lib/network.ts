// The network: a new VPC (public + private subnets, NAT gateways, flow logs) or an existing one by its attributes.
import { FlowLogDestination, FlowLogTrafficType, SubnetType, Vpc, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface ExistingVpcAttributes {
  readonly vpcId: string;
  readonly availabilityZones: string[];
  readonly privateSubnetIds: string[];
  readonly publicSubnetIds?: string[];
}

export interface NetworkProps {
  /** Use this VPC (by `Vpc.fromVpcAttributes`, so synth stays offline). @default a new VPC */
  readonly existingVpc?: ExistingVpcAttributes;
  /** The zones of a new VPC, given so synth never looks them up. @default the stack's first two */
  readonly availabilityZones?: string[];
  /** NAT gateways of a new VPC (the functions reach public providers through NAT). @default 1 */
  readonly natGateways?: number;
}

export class Network extends Construct {
  readonly vpc: IVpc;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    this.vpc = props.existingVpc
      ? Vpc.fromVpcAttributes(this, 'Vpc', props.existingVpc)
      : new Vpc(this, 'Vpc', {
          ...(props.availabilityZones ? { availabilityZones: props.availabilityZones } : { maxAzs: 2 }),
          natGateways: props.natGateways ?? 1,
          subnetConfiguration: [
            { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
            { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
          ],
          flowLogs: {
            all: { destination: FlowLogDestination.toCloudWatchLogs(), trafficType: FlowLogTrafficType.ALL },
          },
        });
  }
}
