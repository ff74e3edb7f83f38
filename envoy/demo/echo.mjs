// The demo's upstream services: answer every request with what reached them (after Envoy and mesh-authz).
import { createServer } from 'node:http';

const service = process.env.SERVICE ?? 'echo';
createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(`${JSON.stringify({ service, method: req.method, path: req.url, headers: req.headers })}\n`);
}).listen(8080, () => console.log(`${service} listening on 8080`));
