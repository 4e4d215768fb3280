// The ingest baseline: a bare Fastify server that parses the same JSON and answers 202.
// Prints its port. No validation, no queues, no delivery: the ceiling for ingest.
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser(
  ['application/vnd.docker.distribution.events.v1+json', 'application/json'],
  { parseAs: 'string' },
  (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  },
);
app.post('/events', (_req, reply) => reply.code(202).send({ accepted: 1 }));
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
if (addr !== null && typeof addr === 'object') process.stdout.write(`${String(addr.port)}\n`);
process.on('SIGTERM', () => process.exit(0));
