// NATS for the tests: where the server binary is, whether the NATS tests can run here,
// and the servers (test/nats-server.ts), every one killed by its pid when the file ends.
import { after } from 'node:test';
import { killAllNats, natsBinary } from './nats-server.ts';

export { natsBinary, startNats, type NatsCluster, type NatsNode } from './nats-server.ts';

after(killAllNats);

/**
 * CI installs nats-server (.ci/run) and requires it; elsewhere a missing binary skips the
 * NATS tests with this reason.
 */
export const natsSkip: string | false =
  natsBinary() === undefined && process.env['CI'] !== 'true'
    ? 'nats-server not installed (apt-get install nats-server, or set NATS_SERVER_BIN)'
    : false;

/** The server binary, or a failure that says how to get one. */
export function requireNats(): string {
  const bin = natsBinary();
  if (bin === undefined) throw new Error('nats-server is not installed (NATS_SERVER_BIN or PATH)');
  return bin;
}
