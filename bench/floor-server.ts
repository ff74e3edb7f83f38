import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { encodeCheckResponse, GRPC_CHECK_PATH } from './frame.js';

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

export function startFloorServer(port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(definition, {
    Check: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, OK_RESPONSE);
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve({ server, port: bound });
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { server, port } = await startFloorServer(Number(process.argv[2] ?? 0));
  process.stdout.write(`LISTENING ${port}\n`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
