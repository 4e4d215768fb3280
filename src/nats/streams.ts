import type { Consumer, JetStreamManager, JsMsg } from '@nats-io/jetstream';

/** Creates the stream, or brings an existing one to `config`. */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0] & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!/stream not found/i.test(err instanceof Error ? err.message : String(err))) throw err;
    await jsm.streams.add(config);
  }
}

/** Reads every message an ordered consumer has, a thousand per pull, into `take`. */
export async function readAll(consumer: Consumer, take: (msg: JsMsg) => void): Promise<void> {
  for (;;) {
    let got = 0;
    let rest = -1;
    for await (const msg of await consumer.fetch({ max_messages: 1000, expires: 1000 })) {
      got += 1;
      rest = msg.info.pending;
      take(msg);
    }
    if (got === 0 || rest === 0) return;
  }
}
