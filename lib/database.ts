// Postgres for the agents: a new Aurora Serverless v2 cluster behind RDS Proxy (TLS required), or an
// existing database by its secret; plus the custom resource that applies the migrations on deploy.
import { createHash } from 'node:crypto';
import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Port, SecurityGroup, SubnetType, type IConnectable, type IVpc } from 'aws-cdk-lib/aws-ec2';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AuroraPostgresEngineVersion,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
  type DatabaseProxy,
} from 'aws-cdk-lib/aws-rds';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { migrationFiles } from '../migrations/migrate.ts';
import { konstructFunction } from './konstruct-function.ts';

export interface DatabaseProps {
  readonly vpc: IVpc;
  /** An existing database's secret (RDS secret JSON: host, port, username, password, dbname). @default a new Aurora cluster */
  readonly existingSecretArn?: string;
  /** Host to connect to instead of the secret's (e.g. an existing RDS Proxy). @default the secret's host */
  readonly existingHost?: string;
  /** Verify TLS to the database. Off only for a local database without TLS (LocalStack). @default true */
  readonly tls?: boolean;
  /** Protect a new cluster from deletion. @default true */
  readonly deletionProtection?: boolean;
}

export class Database extends Construct {
  readonly secret: ISecret;
  /** Where the functions connect: the RDS Proxy endpoint for a new cluster. */
  readonly host: string | undefined;
  readonly tls: boolean;
  private readonly proxy: DatabaseProxy | undefined;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.tls = props.tls ?? true;
    if (props.existingSecretArn) {
      this.secret = Secret.fromSecretCompleteArn(this, 'Secret', props.existingSecretArn);
      this.host = props.existingHost;
    } else {
      const cluster = new DatabaseCluster(this, 'Cluster', {
        engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_16_6 }),
        vpc: props.vpc,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        writer: ClusterInstance.serverlessV2('writer'),
        serverlessV2MinCapacity: 0.5,
        serverlessV2MaxCapacity: 4,
        credentials: Credentials.fromGeneratedSecret('konstruct'),
        defaultDatabaseName: 'konstruct',
        storageEncrypted: true,
        iamAuthentication: true,
        deletionProtection: props.deletionProtection ?? true,
        backup: { retention: Duration.days(7) },
        removalPolicy: RemovalPolicy.SNAPSHOT,
      });
      this.secret = cluster.secret!;
      this.proxy = cluster.addProxy('Proxy', {
        secrets: [cluster.secret!],
        vpc: props.vpc,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        requireTLS: true,
        securityGroups: [
          new SecurityGroup(this, 'ProxySecurityGroup', {
            vpc: props.vpc,
            description: 'RDS Proxy: Postgres from the Konstruct functions only',
            allowAllOutbound: true,
          }),
        ],
      });
      cluster.connections.allowDefaultPortFrom(this.proxy, 'RDS Proxy to the cluster');
      this.host = this.proxy.endpoint;
    }
    this.applyMigrations(props.vpc);
  }

  /** Environment for a function that connects: secret, host and TLS; also grants it the secret and the port. */
  connect(fn: NodejsFunction & IConnectable): Record<string, string> {
    this.secret.grantRead(fn);
    this.proxy?.connections.allowFrom(fn, Port.tcp(5432), 'Konstruct function to RDS Proxy');
    return {
      DATABASE_SECRET_ARN: this.secret.secretArn,
      ...(this.host && { DATABASE_HOST: this.host }),
      ...(this.tls ? { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' } : { DATABASE_TLS: 'off' }),
    };
  }

  private applyMigrations(vpc: IVpc): void {
    const migrator = konstructFunction(this, 'Migrate', {
      function: 'migrate',
      timeout: Duration.minutes(5),
      memorySize: 512,
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      bundling: {
        // The migration runner reads the .sql files beside its bundle.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [`cp ${inputDir}/migrations/*.sql ${outputDir}/`],
        },
      },
    });
    Object.entries(this.connect(migrator)).forEach(([k, v]) => migrator.addEnvironment(k, v));
    const provider = new Provider(this, 'MigrationsProvider', {
      onEventHandler: migrator,
      logGroup: new LogGroup(this, 'MigrationsProviderLogs', {
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    // A new hash on any change to the SQL files makes CloudFormation run the migrations again.
    const hash = createHash('sha256');
    for (const m of migrationFiles()) hash.update(m.name).update(m.sql);
    const migrations = new CustomResource(this, 'Migrations', {
      serviceToken: provider.serviceToken,
      properties: { MigrationsHash: hash.digest('hex') },
    });
    if (this.proxy) migrations.node.addDependency(this.proxy);
  }
}
