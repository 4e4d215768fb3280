// `npm run demo`: runs the relay on config/relay.yaml (the real CLI, as a child process),
// starts the receiver that config points at, posts examples/push-event.json to the relay
// and prints what the receiver got. It keeps running until Ctrl-C so that more events can be
// posted by hand (see README). Requires a build (`npm run demo` builds first).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';

const INGEST = 'http://127.0.0.1:5080';
const DEBUG = 'http://127.0.0.1:5081';

const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const envelope = JSON.parse(body) as {
      events: { id: string; action: string; target: { repository?: string; tag?: string } }[];
    };
    for (const e of envelope.events) {
      const ref = `${e.target.repository ?? '?'}${e.target.tag === undefined ? '' : `:${e.target.tag}`}`;
      console.log(`[demo receiver] got ${e.action} ${ref} (event ${e.id})`);
    }
    res.writeHead(200).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(5099, '127.0.0.1', resolve));

const relay = spawn(process.execPath, ['dist/main.js', '--config', 'config/relay.yaml'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = (): void => {
  relay.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
relay.on('exit', (code) => {
  receiver.close();
  process.exit(code ?? 0);
});

for (let i = 0; ; i++) {
  const ready = await fetch(`${DEBUG}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  if (i > 100) throw new Error('the relay did not become ready within 10s');
  await new Promise((r) => setTimeout(r, 100));
}

const sample = await readFile('examples/push-event.json', 'utf8');
const res = await fetch(`${INGEST}/events`, {
  method: 'POST',
  headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
  body: sample,
});
console.log(`[demo] relay answered ${res.status} ${await res.text()}`);
console.log(`[demo] try:  curl -s -XPOST ${INGEST}/events -H 'content-type: application/json' \\
          --data @examples/push-event.json     (a re-send is acknowledged as a duplicate)
[demo]       curl -s ${DEBUG}/debug/vars | head -c 600;  curl -s ${DEBUG}/metrics | grep registry_
[demo]       the status page: ${DEBUG}/
[demo] Ctrl-C stops the relay gracefully.`);
