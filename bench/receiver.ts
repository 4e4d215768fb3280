// A fast HTTP receiver for benchmarks, in its own process so it does not share a core with
// the load generator. Prints its port, counts events, answers GET /count with the total.
import { createServer } from 'node:http';

let events = 0;
let requests = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ events, requests }));
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    requests += 1;
    // Count events without parsing: each event of an envelope has exactly one "action" key
    // at its top level in what the relay sends (bench events carry no nested "action").
    events += body.split('"action":').length - 1;
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr !== null && typeof addr === 'object') process.stdout.write(`${addr.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
