// Points every AWS SDK client of a test worker at the run's SQS emulator, with dummy credentials.
import { inject } from 'vitest';

process.env.AWS_ENDPOINT_URL = inject('sqsEndpoint');
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
