import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { encodeCheckResponse, GRPC_CHECK_PATH } from './frame.js';
import { startRawFloor } from './raw-floor.js';

/**
 * The floor: the cheapest ext_authz Check server @grpc/grpc-js can be. It allows everything without decoding the
 * request (the deserializer hands the bytes through untouched) and answers with one pre-encoded OK CheckResponse.
 * Whatever mesh-authz costs above this is the price of actually authorizing. Runs in its own process; prints
 * `LISTENING <port>` on stdout once bound.
 */

const OK_RESPONSE = Buffer.from(encodeCheckResponse({ status: { code: 0 }, okResponse: { headers: [] } }));

const definition: grpc.ServiceDefinition = {
  Check: {
    path: GRPC_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

/**
 * The second floor, the one outside harnesses usually measure against: a grpc-js server built the common way, with
 * @grpc/proto-loader decoding every request into objects and encoding the answer. Ratios against it compare with
 * such harnesses; ratios against the pass-through floor show the transport's own cost.
 */
function decodingService(): { definition: grpc.ServiceDefinition; answer: object } {
  const protos = join(import.meta.dirname, '../../protos');
  const pkg = loadSync('envoy/service/auth/v3/external_auth.proto', {
    includeDirs: [protos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(pkg) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } };
  };
  return {
    definition: loaded.envoy.service.auth.v3.Authorization.service,
    answer: { status: { code: 0 }, okResponse: {} },
  };
}

export function startFloorServer(port = 0, decode = false): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  if (decode) {
    const { definition: decoding, answer } = decodingService();
    server.addService(decoding, {
      Check: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        callback(null, answer);
      },
    });
  } else {
    server.addService(definition, {
      Check: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        callback(null, OK_RESPONSE);
      },
    });
  }
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve({ server, port: bound });
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv[3] === 'raw') {
  const { server, port } = await startRawFloor(Number(process.argv[2] ?? 0));
  process.stdout.write(`LISTENING ${port}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else if (isMain) {
  const { server, port } = await startFloorServer(Number(process.argv[2] ?? 0), process.argv[3] === 'decode');
  process.stdout.write(`LISTENING ${port}\n`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
