import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NewEvent, RelayEvent } from '../core/event.ts';
import { Ring } from '../core/ring.ts';
import { connectNats, type NatsConnectionOptions } from './connect.ts';
import { NatsAttempts } from './attempts.ts';
import { NatsControl } from './control.ts';
import { NatsDeadLetters } from './dead-letters.ts';
import { ensureStream } from './streams.ts';
import { JetStreamPublisher, type Publish } from './publisher.ts';
import { endpointOfToken, endpointToken, H, setTrace, TRACE_HEADERS, traceIn } from './subjects.ts';
import {
  type Backlog,
  type BacklogObserver,
  type BacklogOptions,
  type DeadLetterReason,
  type DefersRetries,
  type InstanceReport,
  type KeepsAttempts,
  type KeepsDeadLetters,
  type KeepsTags,
  type KnowsInstances,
  type LeasesWalks,
  type SharesPauses,
  type Storage,
  type WalkLease,
} from '../storage/storage.ts';
import type { TagPersistence } from '../storage/tags.ts';
import { NatsWalks } from './walks.ts';
import { StorageUnavailableError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';

export interface NatsStorageOptions extends NatsConnectionOptions {
  /** The relay's clock: when a message without the accepted-at header was accepted. */
  readonly clock: Clock;
  /** Stream name; endpoint subjects are `<stream>.ep.<endpoint>`, dead letters in `<stream>-dead`. */
  readonly stream: string;
  readonly replicas: number;
  readonly maxAgeMs: number;
  /** 0: no bound. */
  readonly maxBytes: number;
  /** The server drops a message whose id it saw within this window (the re-send window). */
  readonly duplicateWindowMs: number;
  /** How long a message handed to an instance is its own before another may take it. */
  readonly ackWaitMs: number;
}

/** JetStream's de-duplication header: the server stores one message per id in its window. */
const MSG_ID = 'Nats-Msg-Id';

/** How long a request's publishes may wait for JetStream's acknowledgements. */
const PUBLISH_TIMEOUT_MS = 5_000;

/** How long one pull request stays open on the server. */
const PULL_EXPIRES_MS = 1_000;

/**
 * Messages one pull request asks for. The server hands out no more than the consumer's
 * max_ack_pending at once and fills the open request as acknowledgements free room, so a
 * large request costs nothing and lets a reload change max_ack_pending without a new pull.
 */
const PULL_BATCH = 256;

function unavailable(err: unknown): StorageUnavailableError {
  const message = err instanceof Error ? err.message : String(err);
  const full = /maximum (bytes|messages)|insufficient resources|no space/i.test(message);
  return new StorageUnavailableError(
    full ? 'RELAY_STORAGE_FULL' : 'RELAY_STORAGE_WRITE',
    `NATS JetStream did not store the events: ${message}`,
    err,
  );
}

/**
 * Several relays, one NATS JetStream. Ingest publishes one message per event and endpoint
 * it matched, on the endpoint's subject, with `Nats-Msg-Id` = endpoint and event id, and
 * resolves once JetStream acknowledged every publish: a registry re-send reaching another
 * relay within the stream's duplicate window is dropped by the server. Each endpoint is one
 * durable pull consumer shared by every relay (the stream is a work queue: a message leaves
 * once its one consumer acknowledged it), with at most `concurrency × batch.maxEvents`
 * messages out at once cluster-wide, so `concurrency: 1` keeps the order across relays.
 */
export class NatsStorage
  implements
    Storage,
    SharesPauses,
    KnowsInstances,
    KeepsDeadLetters,
    KeepsAttempts,
    KeepsTags,
    LeasesWalks
{
  readonly durable = true;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #publisher: JetStreamPublisher;
  readonly #jsm: JetStreamManager;
  readonly #opts: NatsStorageOptions;
  readonly #log: Logger;
  readonly #backlogs = new Map<string, NatsBacklog>();
  /** Messages per endpoint in the stream at the last count (configured endpoints or not). */
  #streamCounts = new Map<string, number>();
  /** Each configured endpoint's consumer as the server reported it at the last tick. */
  #consumers = new Map<string, { numPending: number; ackPending: number }>();
  #reconnects = 0;
  #closed = false;

  readonly #control: NatsControl;
  readonly #walks: NatsWalks;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    opts: NatsStorageOptions,
    log: Logger,
    control: NatsControl,
  ) {
    this.#control = control;
    this.#walks = new NatsWalks(nc, opts.stream, opts.replicas);
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#publisher = new JetStreamPublisher(nc);
    this.#jsm = jsm;
    this.#opts = opts;
    this.#log = log;
    void this.#watch();
  }

  /** Connects, and creates or updates both streams. */
  static async open(opts: NatsStorageOptions, log: Logger): Promise<NatsStorage> {
    const nc = await connectNats(opts);
    try {
      const jsm = await jetstreamManager(nc);
      const s = opts.stream;
      const common = {
        num_replicas: opts.replicas,
        max_age: nanos(opts.maxAgeMs),
        storage: StorageType.File,
      };
      await ensureStream(jsm, {
        ...common,
        name: s,
        subjects: [`${s}.ep.*`],
        retention: RetentionPolicy.Workqueue,
        discard: DiscardPolicy.New,
        max_bytes: opts.maxBytes > 0 ? opts.maxBytes : -1,
        duplicate_window: nanos(Math.min(opts.duplicateWindowMs, opts.maxAgeMs)),
      });
      await ensureStream(jsm, {
        ...common,
        name: `${s}-dead`,
        subjects: [`${s}-dead.ep.*`],
        retention: RetentionPolicy.Limits,
      });
      const control = await NatsControl.open(nc, s, opts.replicas, log, opts.clock);
      const storage = new NatsStorage(nc, jsm, opts, log, control);
      await storage.#refreshPending();
      return storage;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  get clock(): Clock {
    return this.#opts.clock;
  }

  get ackWaitMs(): number {
    return this.#opts.ackWaitMs;
  }

  /** False while the connection to NATS is down (then `/readyz` fails). */
  ready(): boolean {
    return !this.#nc.isClosed() && !this.#disconnected;
  }

  #disconnected = false;

  async #watch(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') {
        this.#disconnected = true;
        this.#log.warn({ server: s.server }, 'NATS connection lost; reconnecting');
      } else if (s.type === 'reconnect') {
        this.#disconnected = false;
        this.#reconnects += 1;
        this.#log.info({ server: s.server }, 'NATS connection back');
      }
    }
  }

  async append(
    events: readonly NewEvent[],
    targets: readonly (readonly string[])[],
  ): Promise<void> {
    // Every request of this event-loop turn publishes together: the client writes what
    // is published in one go to the socket as one write, as the journal commits a turn's
    // events at once.
    await this.#turn();
    if (this.#closed) {
      throw new StorageUnavailableError('RELAY_STORAGE_WRITE', 'storage closed');
    }
    const group: Publish[] = [];
    events.forEach((event, i) => {
      for (const name of targets[i] ?? []) {
        const token = endpointToken(name);
        const h = headers();
        h.set(MSG_ID, `${token}:${event.id}`);
        h.set(H.acceptedAt, String(event.acceptedAt));
        h.set(H.eventId, event.id);
        h.set(H.action, event.action);
        if (event.mediaType !== undefined) h.set(H.mediaType, event.mediaType);
        if (event.trace !== undefined) setTrace(h, event.trace);
        group.push({
          subject: `${this.#opts.stream}.ep.${token}`,
          data: event.envelope,
          headers: h,
        });
      }
    });
    try {
      await this.#publisher.publish(group, PUBLISH_TIMEOUT_MS);
    } catch (err) {
      throw unavailable(err);
    }
    events.forEach((event, i) => {
      for (const name of targets[i] ?? []) this.#backlogs.get(name)?.queued(event);
    });
  }

  #nextTurn: Promise<void> | undefined;

  /** Messages settled this turn whose acknowledgements have not gone out yet. */
  #acks: JsMsg[] = [];

  /**
   * Acknowledges `msg` at the end of this event-loop turn, with every other message settled
   * in it: one socket write for all of them rather than one per delivery (each delivery
   * settles in a callback of its own, and the client writes at the end of each). Nothing
   * waits on an ack's answer, so the only change is a message settled in the last turn
   * before a crash being delivered again, which at-least-once allows; close sends them.
   */
  ackSoon(msg: JsMsg): void {
    if (this.#acks.push(msg) === 1) {
      setImmediate(() => {
        this.#flushAcks();
      });
    }
  }

  #flushAcks(): void {
    const acks = this.#acks;
    this.#acks = [];
    for (const m of acks) {
      try {
        m.ack();
      } catch (err) {
        // The connection closed under it: the server offers the message again after
        // ackWait (delivered once more, as after a relay's death).
        this.#log.warn({ err, seq: m.seq }, 'could not acknowledge a delivered message');
      }
    }
  }

  /** Resolves once this event-loop turn's I/O is handled (shared by its appends). */
  #turn(): Promise<void> {
    this.#nextTurn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#nextTurn = undefined;
        resolve();
      }),
    );
    return this.#nextTurn;
  }

  backlog(endpoint: string, options: BacklogOptions): NatsBacklog {
    let backlog = this.#backlogs.get(endpoint);
    if (backlog === undefined) {
      backlog = new NatsBacklog(endpoint, this, options, this.#streamCounts.get(endpoint) ?? 0);
      this.#backlogs.set(endpoint, backlog);
    } else {
      backlog.configure(options);
    }
    return backlog;
  }

  /** Sets (or changes) how many messages the endpoint's consumer hands out at once. */
  async startConsumer(backlog: NatsBacklog, maxAckPending: number): Promise<ConsumerMessages> {
    const stream = this.#opts.stream;
    const token = endpointToken(backlog.endpoint);
    const config = {
      durable_name: `ep-${token}`,
      filter_subject: `${stream}.ep.${token}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.#opts.ackWaitMs),
      max_ack_pending: maxAckPending,
      max_deliver: -1,
    };
    try {
      await this.#jsm.consumers.add(stream, config);
    } catch {
      await this.updateConsumer(backlog.endpoint, maxAckPending);
    }
    const consumer = await this.#js.consumers.get(stream, config.durable_name);
    return consumer.consume({
      max_messages: Math.max(PULL_BATCH, maxAckPending),
      expires: PULL_EXPIRES_MS,
      callback: (m) => {
        backlog.arrived(m);
      },
    });
  }

  /** A reload changed `concurrency × batch.maxEvents`: so many out at once, cluster-wide. */
  async updateConsumer(endpoint: string, maxAckPending: number): Promise<void> {
    await this.#jsm.consumers.update(this.#opts.stream, `ep-${endpointToken(endpoint)}`, {
      max_ack_pending: maxAckPending,
      ack_wait: nanos(this.#opts.ackWaitMs),
    });
  }

  /** Publishes a dead letter, then ends the original message's deliveries. */
  deadLetter(endpoint: string, msg: JsMsg, reason: DeadLetterReason): void {
    const h = headers();
    for (const key of [H.acceptedAt, H.eventId, H.action, H.mediaType, ...TRACE_HEADERS]) {
      const v = msg.headers?.get(key);
      if (v !== undefined && v !== '') h.set(key, v);
    }
    h.set(H.attempts, String(reason.attempts));
    h.set(H.error, reason.error);
    this.#js
      .publish(`${this.#opts.stream}-dead.ep.${endpointToken(endpoint)}`, msg.data, { headers: h })
      .then(
        () => {
          // No reason text: nats-server 2.9 takes `+TERM <reason>` for no acknowledgement.
          msg.term();
        },
        (err: unknown) => {
          // Not kept as a dead letter: the message is offered again after ackWait.
          this.#log.error({ endpoint, err }, 'could not store a dead letter; it will be retried');
        },
      );
  }

  pausedEndpoints(): readonly string[] {
    return this.#control.paused();
  }

  tagPersistence(): TagPersistence {
    return this.#walks;
  }

  takeWalkLease(registry: string, holder: string): Promise<WalkLease | undefined> {
    return this.#walks.takeWalkLease(registry, holder);
  }

  setPaused(endpoint: string, paused: boolean): Promise<void> {
    return this.#control.setPaused(endpoint, paused);
  }

  watchPaused(onChange: (endpoint: string, paused: boolean) => void): void {
    this.#control.onChange = onChange;
  }

  #announced: string | undefined;

  announce(report: InstanceReport): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#announced = report.id;
    return this.#control.announce(report);
  }

  instances(): Promise<readonly (InstanceReport & { seenAt: number })[]> {
    return this.#control.instances();
  }

  attempts(bounds: { keep: number; maxAgeMs: number }): NatsAttempts {
    return new NatsAttempts(
      this.#nc,
      this.#opts.stream,
      { ...bounds, replicas: this.#opts.replicas },
      this.#log,
    );
  }

  deadLetters(): NatsDeadLetters {
    return new NatsDeadLetters(this.#nc, this.#opts.stream, this.#opts.clock);
  }

  forget(endpoint: string): void {
    void this.#backlogs.get(endpoint)?.stop();
    this.#backlogs.delete(endpoint);
    // Its series leave /metrics with the endpoint, as with the other backends.
    this.#consumers.delete(endpoint);
  }

  pendingCounts(): ReadonlyMap<string, number> {
    const counts = new Map(this.#streamCounts);
    for (const [name, b] of this.#backlogs) counts.set(name, b.pending);
    return counts;
  }

  recentIds(): readonly { id: string; acceptedAt: number }[] {
    // The server de-duplicates by message id within its duplicate window.
    return [];
  }

  tick(): void {
    void this.#refreshPending().catch(() => undefined);
    void this.#refreshConsumers().catch(() => undefined);
  }

  async #refreshConsumers(): Promise<void> {
    const consumers = new Map<string, { numPending: number; ackPending: number }>();
    await Promise.all(
      [...this.#backlogs.keys()].map(async (name) => {
        const info = await this.#jsm.consumers.info(this.#opts.stream, `ep-${endpointToken(name)}`);
        consumers.set(name, { numPending: info.num_pending, ackPending: info.num_ack_pending });
      }),
    );
    // Only endpoints still configured: one removed while the lookup ran stays out.
    this.#consumers = new Map([...consumers].filter(([name]) => this.#backlogs.has(name)));
  }

  registerMetrics(register: Registry): void {
    const registers = [register];
    const backlogs = this.#backlogs;
    const consumers = () => this.#consumers;
    const connected = () => (this.ready() ? 1 : 0);
    const reconnects = () => this.#reconnects;
    new Gauge({
      name: 'relay_nats_connected',
      help: '1 while this relay is connected to NATS, else 0 (then /readyz fails and ingest answers 503).',
      registers,
      collect() {
        this.set(connected());
      },
    });
    new Counter({
      name: 'relay_nats_reconnects_total',
      help: 'Times this relay got its NATS connection back after losing it.',
      registers,
      collect() {
        this.reset();
        this.inc(reconnects());
      },
    });
    new Gauge({
      name: 'relay_nats_consumer_pending',
      help: "Consumer lag: the endpoint's messages in the stream not yet handed to any relay (num_pending, at the last second's look).",
      labelNames: ['endpoint'] as const,
      registers,
      collect() {
        this.reset();
        for (const [name, c] of consumers()) this.labels(name).set(c.numPending);
      },
    });
    new Gauge({
      name: 'relay_nats_consumer_ack_pending',
      help: "The endpoint's messages handed to some relay and not yet settled, cluster-wide (num_ack_pending).",
      labelNames: ['endpoint'] as const,
      registers,
      collect() {
        this.reset();
        for (const [name, c] of consumers()) this.labels(name).set(c.ackPending);
      },
    });
    new Counter({
      name: 'relay_nats_redelivered_total',
      help: 'Messages this relay was handed again: an instance died or gave them back before settling them.',
      labelNames: ['endpoint'] as const,
      registers,
      collect() {
        this.reset();
        for (const [name, b] of backlogs) this.labels(name).inc(b.redelivered);
      },
    });
  }

  /**
   * Undelivered events per endpoint: the stream is a work queue, so the messages still on
   * an endpoint's subject are exactly what it is owed, whichever relay holds them.
   */
  async #refreshPending(): Promise<void> {
    const prefix = `${this.#opts.stream}.ep.`;
    const info = await this.#jsm.streams.info(this.#opts.stream, { subjects_filter: '>' });
    const counts = new Map<string, number>();
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      if (!subject.startsWith(prefix)) continue;
      counts.set(endpointOfToken(subject.slice(prefix.length)), n);
    }
    for (const [name, b] of this.#backlogs) b.stored(counts.get(name) ?? 0);
    this.#streamCounts = counts;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#control.stop();
    this.#walks.stop();
    // The other relays stop listing this one at once, not when its report expires.
    if (this.#announced !== undefined) {
      await this.#control.forget(this.#announced).catch(() => undefined);
    }
    await Promise.all([...this.#backlogs.values()].map((b) => b.stop()));
    this.#flushAcks();
    try {
      // Acks and naks are sent without waiting for an answer: the server has them all
      // once it answered this round trip.
      await this.#nc.flush();
      await this.#nc.drain();
    } catch {
      await this.#nc.close();
    }
  }
}

/**
 * One endpoint's share of the stream on this relay: the messages its consumer handed to
 * this relay, oldest first. They stay this relay's (in-progress acks) until settled; what
 * another relay holds, or the server has not handed out yet, is pending but not waiting.
 */
export class NatsBacklog implements Backlog, DefersRetries {
  readonly endpoint: string;
  readonly #storage: NatsStorage;
  readonly #waiting = new Ring<RelayEvent>();
  readonly #msgs = new WeakMap<RelayEvent, JsMsg>();
  readonly #leased = new Set<RelayEvent>();
  /** Every message this relay holds (waiting or leased): kept with in-progress acks. */
  readonly #inHand = new Set<JsMsg>();
  /** The endpoint's messages in the stream: at the last count, and what this relay did since. */
  #stored = 0;
  /** Messages handed to this relay that some instance had been handed before. */
  redelivered = 0;
  #stopped = false;
  #maxInFlight: number;
  #observer: BacklogObserver;
  #log: Logger;
  #messages: Promise<ConsumerMessages | undefined> | undefined;
  readonly #keepAlive: ReturnType<typeof setInterval>;
  onAvailable: (() => void) | undefined;

  constructor(endpoint: string, storage: NatsStorage, options: BacklogOptions, restored: number) {
    this.endpoint = endpoint;
    this.#storage = storage;
    this.#observer = options.observer;
    this.#log = options.log;
    this.#stored = restored;
    if (restored > 0) this.#observer.restorePending(restored);
    this.#maxInFlight = options.maxInFlight ?? 1;
    this.#start(this.#maxInFlight);
    // Well inside ackWait, so no other relay is handed what this one still works on.
    this.#keepAlive = setInterval(
      () => {
        for (const m of this.#inHand) m.working();
      },
      Math.max(100, storage.ackWaitMs / 3),
    ).unref();
  }

  configure(options: BacklogOptions): void {
    if (options.observer !== this.#observer && this.pending > 0) {
      options.observer.restorePending(this.pending);
    }
    this.#observer = options.observer;
    this.#log = options.log;
    const max = options.maxInFlight ?? 1;
    if (max !== this.#maxInFlight) {
      this.#maxInFlight = max;
      // After the consumer exists; the open pull request goes on as it is.
      const log = this.#log;
      void this.#messages
        ?.then(() => this.#storage.updateConsumer(this.endpoint, max))
        .catch((err: unknown) => {
          log.error({ err }, 'could not change the JetStream consumer (max_ack_pending)');
        });
    }
  }

  #start(maxAckPending: number): void {
    this.#messages = this.#storage.startConsumer(this, maxAckPending).catch((err: unknown) => {
      this.#log.error({ err }, 'could not start the JetStream consumer');
      return undefined;
    });
  }

  get pending(): number {
    return Math.max(this.#stored, this.#waiting.length + this.#leased.size);
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** This relay accepted `event` for the endpoint (the metrics' count of events). */
  queued(event: RelayEvent): void {
    this.#stored += 1;
    this.#observer.onQueued(event);
  }

  /** The stream's count for this endpoint (every relay's appends and acks so far). */
  stored(n: number): void {
    this.#stored = n;
  }

  arrived(msg: JsMsg): void {
    if (this.#stopped) {
      msg.nak();
      return;
    }
    if (msg.redelivered) this.redelivered += 1;
    const acceptedAt = Number(msg.headers?.get(H.acceptedAt));
    const trace = msg.headers === undefined ? undefined : traceIn(msg.headers);
    const event: RelayEvent = {
      id: msg.headers?.get(H.eventId) ?? `nats-${String(msg.seq)}`,
      envelope: msg.string(),
      acceptedAt: Number.isFinite(acceptedAt) ? acceptedAt : this.#storage.clock.now(),
      // Each delivery of a message is one attempt (a failed attempt naks it).
      attempts: msg.info.deliveryCount - 1,
      ...(trace === undefined ? {} : { trace }),
    };
    this.#msgs.set(event, msg);
    this.#inHand.add(msg);
    this.#waiting.push(event);
    this.onAvailable?.();
  }

  peek(): RelayEvent | undefined {
    return this.#waiting.peek();
  }

  lease(max: number): RelayEvent[] {
    const out: RelayEvent[] = [];
    while (out.length < max) {
      const event = this.#waiting.shift();
      if (event === undefined) break;
      this.#leased.add(event);
      out.push(event);
    }
    return out;
  }

  ack(events: readonly RelayEvent[]): void {
    for (const e of events) {
      this.#leased.delete(e);
      const msg = this.#settle(e);
      if (msg !== undefined) this.#storage.ackSoon(msg);
    }
    this.#stored = Math.max(0, this.#stored - events.length);
  }

  retryLater(events: readonly RelayEvent[]): void {
    for (const e of events) this.#leased.delete(e);
    this.#waiting.unshift(events);
    if (events.length > 0) this.onAvailable?.();
  }

  /** A failed attempt: the server offers the events again after `delayMs`, to any relay. */
  defer(events: readonly RelayEvent[], delayMs: number): void {
    for (const e of events) {
      this.#leased.delete(e);
      // Still pending on the server (max_ack_pending holds), so order is kept.
      // Whole milliseconds: the server reads the delay as integer nanoseconds, and takes
      // a fraction for a plain nak (at once).
      this.#settle(e)?.nak(Math.ceil(delayMs));
    }
  }

  deadLetter(events: readonly RelayEvent[], reason: DeadLetterReason): void {
    for (const e of events) {
      this.#leased.delete(e);
      const msg = this.#settle(e);
      if (msg !== undefined) this.#storage.deadLetter(this.endpoint, msg, reason);
    }
    this.#stored = Math.max(0, this.#stored - events.length);
  }

  /** Stops taking messages; what this relay holds goes back to the server at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#keepAlive);
    // The pull is ended first: a message given back while it is still open would come
    // straight back to this relay, and stay its own until ackWait.
    const messages = await this.#messages;
    messages?.stop();
    await messages?.closed().catch(() => undefined);
    // The server keeps this relay's last pull request open until it expires, and would
    // hand a message given back before then to a subscription that is gone.
    if (messages !== undefined) await new Promise((r) => setTimeout(r, PULL_EXPIRES_MS + 100));
    for (let e = this.#waiting.shift(); e !== undefined; e = this.#waiting.shift()) {
      this.#settle(e)?.nak();
    }
    for (const e of this.#leased) this.#settle(e)?.nak();
    this.#leased.clear();
  }

  /** The message behind `event`, which this relay no longer holds once the caller settles it. */
  #settle(event: RelayEvent): JsMsg | undefined {
    const msg = this.#msgs.get(event);
    if (msg !== undefined) this.#inHand.delete(msg);
    return msg;
  }
}
