// The JetStream publisher ingest uses: a group of publishes resolves once every one was
// stored, a repeated Nats-Msg-Id is stored once, and each refusal the server can give
// rejects the group with a message that names it. Against a real nats-server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DiscardPolicy, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamPublisher, type Publish } from '../../src/nats/publisher.ts';
import { natsSkip, requireNats, startNats, type NatsCluster } from '../support/nats-process.ts';

describe('JetStream publisher', { skip: natsSkip }, () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let publisher: JetStreamPublisher;

  before(async () => {
    cluster = await startNats(requireNats());
    nc = await connect({ servers: [...cluster.urls] });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'work',
      subjects: ['work.>'],
      retention: RetentionPolicy.Workqueue,
    });
    await jsm.streams.add({
      name: 'tiny',
      subjects: ['tiny.>'],
      max_msgs: 2,
      discard: DiscardPolicy.New,
    });
    publisher = new JetStreamPublisher(nc);
  });
  after(async () => {
    await nc.close();
    await cluster.stop();
  });

  const message = (subject: string, id: string): Publish => {
    const h = headers();
    h.set('Nats-Msg-Id', id);
    return { subject, data: `{"events":[{"id":"${id}"}]}`, headers: h };
  };
  const count = async (stream: string) =>
    (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;

  it('resolves once every message of a group is stored; a repeated id is stored once', async () => {
    await publisher.publish(
      Array.from({ length: 50 }, (_, i) => message('work.a', `a-${String(i)}`)),
      5_000,
    );
    assert.equal(await count('work'), 50);
    // Two groups at once, one repeating ids of the first: acknowledged as duplicates.
    await Promise.all([
      publisher.publish([message('work.b', 'b-1'), message('work.b', 'b-2')], 5_000),
      publisher.publish([message('work.b', 'b-1'), message('work.a', 'a-0')], 5_000),
    ]);
    assert.equal(await count('work'), 52);
    await publisher.publish([], 5_000);
  });

  it('rejects a group when no stream takes a subject, naming it', async () => {
    await assert.rejects(
      publisher.publish([message('work.c', 'c-1'), message('nowhere.c', 'c-2')], 5_000),
      /no JetStream stream takes the subject/,
    );
  });

  it('rejects a group the stream has no room for with the server’s reason', async () => {
    await publisher.publish([message('tiny.x', 't-1'), message('tiny.x', 't-2')], 5_000);
    await assert.rejects(publisher.publish([message('tiny.x', 't-3')], 5_000), /maximum messages/);
    // The publisher goes on working after a refusal.
    await publisher.publish([message('work.d', 'd-1')], 5_000);
  });

  it('rejects a group nobody answers within the timeout', async () => {
    const silent = await connect({ servers: [...cluster.urls] });
    try {
      const quiet = new JetStreamPublisher(silent);
      // A core subscription takes the subject: the publish reaches a subscriber that never
      // answers, so only the timeout can end the group.
      silent.subscribe('quiet.x');
      await silent.flush();
      await assert.rejects(
        quiet.publish([message('quiet.x', 'q-1')], 200),
        /no acknowledgement from JetStream within 200ms/,
      );
    } finally {
      await silent.close();
    }
  });

  it('rejects a group on a closed connection', async () => {
    const closing = await connect({ servers: [...cluster.urls] });
    const p = new JetStreamPublisher(closing);
    await closing.close();
    await assert.rejects(p.publish([message('work.e', 'e-1')], 5_000), /closed/i);
  });
});
