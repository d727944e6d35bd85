// A local fake of Secrets Manager's JSON 1.1 wire protocol (GetSecretValue and PutSecretValue), for the real AWS SDK.
import { createServer, type Server } from 'node:http';

export class FakeSecretsManager {
  readonly secrets = new Map<string, string>();
  reads = 0;
  /** Every PutSecretValue, in order: the ARN and the value written. */
  readonly writes: { arn: string; value: string }[] = [];
  /** While true, every read fails as in a Secrets Manager outage (500 InternalServiceError); still counted in `reads`. */
  outage = false;
  /** Answers this long after each request arrives (a slow Secrets Manager). */
  delayMs = 0;
  /** Headers of the last request, to check its SigV4 signature's scope. */
  lastRequest: Record<string, string | string[] | undefined> | undefined;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', async () => {
        if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
        this.lastRequest = req.headers;
        const target = req.headers['x-amz-target'];
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(body));
        };
        const { SecretId, SecretString } = JSON.parse(raw) as { SecretId: string; SecretString?: string };
        if (target === 'secretsmanager.PutSecretValue') {
          if (!this.secrets.has(SecretId) || SecretString === undefined)
            return send(400, { __type: 'ResourceNotFoundException' });
          this.secrets.set(SecretId, SecretString);
          this.writes.push({ arn: SecretId, value: SecretString });
          return send(200, { ARN: SecretId, VersionId: `v${this.writes.length + 1}`, VersionStages: ['AWSCURRENT'] });
        }
        if (target !== 'secretsmanager.GetSecretValue') return send(400, { __type: 'UnknownOperationException' });
        this.reads++;
        if (this.outage)
          return send(500, { __type: 'InternalServiceError', message: 'An error occurred on the server side.' });
        const value = this.secrets.get(SecretId);
        if (value === undefined) {
          return send(400, {
            __type: 'ResourceNotFoundException',
            message: "Secrets Manager can't find the specified secret.",
          });
        }
        send(200, {
          ARN: SecretId,
          Name: SecretId.split(':').pop(),
          SecretString: value,
          VersionId: 'v1',
          VersionStages: ['AWSCURRENT'],
          CreatedDate: 1_700_000_000,
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
