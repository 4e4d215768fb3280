import type { JetStreamManager } from '@nats-io/jetstream';

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
