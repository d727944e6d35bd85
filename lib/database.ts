// Postgres for the agents: a new Aurora Serverless v2 cluster behind RDS Proxy (TLS required), or an
// existing database by its secret; two logins (the master for migrations, konstruct_handler for the
// application); plus the custom resource that applies the migrations on deploy.
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
  DatabaseSecret,
  type DatabaseProxy,
} from 'aws-cdk-lib/aws-rds';
import { HostedRotation, Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { HANDLER_ROLE } from '../migrations/handler-login.ts';
import { migrationFiles } from '../migrations/migrate.ts';
import { konstructFunction } from './konstruct-function.ts';

export interface DatabaseProps {
  readonly vpc: IVpc;
  /** An existing database's master secret, for migrations (RDS secret JSON: host, port, username, password, dbname). @default a new Aurora cluster */
  readonly existingSecretArn?: string;
  /**
   * With an existing database, the application's secret (`username` konstruct_handler, `password`); the migration
   * step sets that password and fills in a missing host, port or dbname. @default a generated secret
   */
  readonly existingAppSecretArn?: string;
  /** Host both logins connect to instead of the secrets' (e.g. an existing RDS Proxy). @default the secret's host */
  readonly existingHost?: string;
  /** Verify TLS to the database. Off only for a local database without TLS (LocalStack). @default true */
  readonly tls?: boolean;
  /** Protect a new cluster from deletion. @default true */
  readonly deletionProtection?: boolean;
}

/** Rotation of a new Aurora's secrets (hosted single-user: each login changes its own password). */
export const SECRET_ROTATION = Duration.days(30);

export class Database extends Construct {
  /** The master login: the migration step alone reads it. */
  readonly masterSecret: ISecret;
  /** The application's login, konstruct_handler: what handleMessage reads. */
  readonly appSecret: ISecret;
  /** A secret the stack generated and does not rotate (an existing database's application secret). */
  readonly unrotatedSecret: Secret | undefined;
  /** Where the functions connect: the RDS Proxy endpoint for a new cluster. */
  readonly host: string | undefined;
  readonly tls: boolean;
  /** Applied migrations and a set application password: nothing may use the database before. */
  readonly migrations: CustomResource;
  private readonly proxy: DatabaseProxy | undefined;
  /** The database name, when the stack made it. */
  private readonly name: string | undefined;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.tls = props.tls ?? true;
    const rotations: Construct[] = [];
    if (props.existingSecretArn) {
      this.masterSecret = Secret.fromSecretCompleteArn(this, 'Secret', props.existingSecretArn);
      if (props.existingAppSecretArn) {
        this.appSecret = Secret.fromSecretCompleteArn(this, 'AppSecret', props.existingAppSecretArn);
      } else {
        // Not attached to anything the stack knows: the migration step fills in host, port and dbname.
        this.appSecret = this.unrotatedSecret = new DatabaseSecret(this, 'AppSecret', { username: HANDLER_ROLE });
      }
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
      this.name = 'konstruct';
      this.masterSecret = cluster.secret!;
      // Attached: the secret gains the cluster's host, port and engine, which its rotation needs.
      this.appSecret = new DatabaseSecret(this, 'AppSecret', { username: HANDLER_ROLE, dbname: this.name }).attach(
        cluster,
      );
      for (const [rotationId, secret] of [
        ['MasterRotation', this.masterSecret],
        ['AppRotation', this.appSecret],
      ] as const) {
        const rotation = HostedRotation.postgreSqlSingleUser({
          vpc: props.vpc,
          vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        });
        rotations.push(
          secret.addRotationSchedule(rotationId, { hostedRotation: rotation, automaticallyAfter: SECRET_ROTATION }),
        );
        // The rotation logs in at the cluster endpoint the secret names, not through the proxy.
        cluster.connections.allowDefaultPortFrom(rotation, 'Secret rotation to the cluster');
      }
      this.proxy = cluster.addProxy('Proxy', {
        secrets: [this.masterSecret, this.appSecret],
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
    this.migrations = this.applyMigrations(props.vpc);
    // The first rotation runs at once: the application password must be set (and the schema there) before.
    for (const rotation of rotations) rotation.node.addDependency(this.migrations);
  }

  /**
   * Environment for a function of the application: it logs in as konstruct_handler, may read only that secret,
   * and is created only once the migrations have set that login's password.
   */
  connect(fn: NodejsFunction & IConnectable): Record<string, string> {
    fn.node.addDependency(this.migrations);
    return this.environment(fn, this.appSecret);
  }

  /** Grants `fn` the secret and the proxy's port; returns where and how it connects with that secret. */
  private environment(fn: NodejsFunction & IConnectable, secret: ISecret): Record<string, string> {
    secret.grantRead(fn);
    this.proxy?.connections.allowFrom(fn, Port.tcp(5432), 'Konstruct function to RDS Proxy');
    return {
      DATABASE_SECRET_ARN: secret.secretArn,
      ...(this.host && { DATABASE_HOST: this.host }),
      ...(this.name && { DATABASE_NAME: this.name }),
      ...(this.tls ? { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' } : { DATABASE_TLS: 'off' }),
    };
  }

  private applyMigrations(vpc: IVpc): CustomResource {
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
    // The master login runs the migrations, then sets the application login's password from its secret.
    Object.entries(this.environment(migrator, this.masterSecret)).forEach(([k, v]) => migrator.addEnvironment(k, v));
    this.appSecret.grantRead(migrator);
    this.appSecret.grantWrite(migrator);
    migrator.addEnvironment('DATABASE_HANDLER_SECRET_ARN', this.appSecret.secretArn);
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
      // A new application secret runs the step again, which sets its password.
      properties: { MigrationsHash: hash.digest('hex'), HandlerSecretArn: this.appSecret.secretArn },
    });
    if (this.proxy) migrations.node.addDependency(this.proxy);
    return migrations;
  }
}
