// Fast HTTP receivers for benchmarks, in a process of their own so they do not share a
// core with the load generator. Usage: receiver.ts [COUNT] [--latency] [--hanging]
// Prints one JSON line {"ports":[...],"hanging":port?,"control":port}. The control port
// answers GET /stats with [{events, requests, lastAt}] per receiver (lastAt: epoch ms of
// the last event received), and GET /latencies with the accept-to-receipt latencies (ms)
// of events that carry `benchSentAt` (only recorded with --latency). One cheap poll of
// the control port replaces polling every receiver, which stole CPU from the run.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const args = process.argv.slice(2);
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? '1');
const recordLatency = args.includes('--latency');
const now = (): number => performance.timeOrigin + performance.now();

function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

interface Stats {
  events: number;
  requests: number;
  lastAt: number;
}
const stats: Stats[] = [];
const latencies: number[] = [];

function receiver(): Server {
  const mine: Stats = { events: 0, requests: 0, lastAt: 0 };
  stats.push(mine);
  return createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const at = now();
      mine.requests += 1;
      mine.lastAt = at;
      if (recordLatency) {
        const parsed = JSON.parse(body) as { events: { benchSentAt?: number }[] };
        for (const e of parsed.events) {
          mine.events += 1;
          if (e.benchSentAt !== undefined) latencies.push(at - e.benchSentAt);
        }
      } else {
        // Bench events carry exactly one "action" key each, at their top level.
        mine.events += body.split('"action":').length - 1;
      }
      res.writeHead(200).end();
    });
  });
}

const ports: number[] = [];
for (let i = 0; i < count; i++) ports.push(await listen(receiver()));
// Accepts connections and reads requests, never answers.
const hanging = args.includes('--hanging')
  ? await listen(createServer(() => undefined))
  : undefined;
const control = await listen(
  createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/latencies' ? latencies : stats));
  }),
);
process.stdout.write(`${JSON.stringify({ ports, hanging, control })}\n`);
process.on('SIGTERM', () => process.exit(0));
