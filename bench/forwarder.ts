// The latency baseline: a bare forwarder in a process of its own. It answers each POST
// /events with 202 and sends the body's event on to every receiver named on the command
// line, over one keep-alive undici connection each and one request at a time, in order,
// as the relay does by default; no storage, no retries, no metrics. Prints its port.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

interface Endpoint {
  readonly pool: Pool;
  readonly queue: string[];
  busy: boolean;
}

const endpoints: Endpoint[] = process.argv.slice(2).map((url) => ({
  pool: new Pool(new URL(url).origin, { connections: 1 }),
  queue: [],
  busy: false,
}));

async function pump(ep: Endpoint): Promise<void> {
  if (ep.busy) return;
  ep.busy = true;
  for (let body = ep.queue.shift(); body !== undefined; body = ep.queue.shift()) {
    const res = await ep.pool.request({
      method: 'POST',
      path: '/events',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body,
    });
    await res.body.dump();
  }
  ep.busy = false;
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    const { events } = JSON.parse(body) as { events: unknown[] };
    const envelope = JSON.stringify({ events: [events[0]] });
    res.writeHead(202).end('{}');
    for (const ep of endpoints) {
      ep.queue.push(envelope);
      void pump(ep);
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${String((server.address() as AddressInfo).port)}\n`);
});
process.on('SIGTERM', () => process.exit(0));
