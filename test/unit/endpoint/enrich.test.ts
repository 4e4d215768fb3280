import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageFacts, ImageFactsSource, Prepared } from '../../../src/core/image.ts';
import type { RelayEvent } from '../../../src/core/event.ts';
import { Delivery } from '../../../src/endpoint/delivery.ts';
import { EnrichingSink, FactFilter, type FactRules } from '../../../src/endpoint/enrich.ts';
import type { Sink } from '../../../src/core/sink.ts';

const NONE = { include: [], exclude: [] };
const rules = (over: Partial<FactRules>): FactRules => ({
  platforms: NONE,
  artifactTypes: NONE,
  labels: {},
  ...over,
});
const facts = (over: Partial<ImageFacts>): ImageFacts => ({
  registry: 'r',
  digest: 'sha256:x',
  ...over,
});

describe('fact filter', () => {
  it('platforms match os/architecture and os/architecture/variant, globs included', () => {
    const f = new FactFilter(rules({ platforms: { include: ['linux/arm64'], exclude: [] } }));
    assert.equal(
      f.accepts(
        facts({
          platforms: [
            { os: 'linux', architecture: 'amd64' },
            { os: 'linux', architecture: 'arm64', variant: 'v8' },
          ],
        }),
      ),
      true,
    );
    assert.equal(f.accepts(facts({ platforms: [{ os: 'linux', architecture: 'amd64' }] })), false);
    const v = new FactFilter(
      rules({ platforms: { include: ['linux/arm/v*'], exclude: ['windows/*'] } }),
    );
    assert.equal(
      v.accepts(facts({ platforms: [{ os: 'linux', architecture: 'arm', variant: 'v7' }] })),
      true,
    );
    assert.equal(
      v.accepts(
        facts({
          platforms: [
            { os: 'linux', architecture: 'arm', variant: 'v7' },
            { os: 'windows', architecture: 'amd64' },
          ],
        }),
      ),
      false,
    );
  });

  it('labels: every label must match its pattern; signed: exactly; artifact types', () => {
    const f = new FactFilter(
      rules({
        labels: { team: 'pay*', 'org.opencontainers.image.source': 'https://git.example.com/**' },
      }),
    );
    assert.equal(
      f.accepts(
        facts({
          labels: {
            team: 'payments',
            'org.opencontainers.image.source': 'https://git.example.com/team/app',
          },
        }),
      ),
      true,
    );
    assert.equal(f.accepts(facts({ labels: { team: 'payments' } })), false);
    assert.equal(new FactFilter(rules({ signed: false })).accepts(facts({ signed: false })), true);
    assert.equal(new FactFilter(rules({ signed: false })).accepts(facts({ signed: true })), false);
    const t = new FactFilter(
      rules({ artifactTypes: { include: ['application/vnd.cncf.helm.*'], exclude: [] } }),
    );
    assert.equal(
      t.accepts(facts({ artifactType: 'application/vnd.cncf.helm.config.v1+json' })),
      true,
    );
    assert.equal(t.accepts(facts({})), false);
  });

  it('no facts at all (a blob) matches no fact filter; facts that could not be read pass, marked', () => {
    const f = new FactFilter(rules({ signed: true }));
    assert.equal(f.accepts(undefined), false);
    assert.equal(f.accepts(facts({ unavailable: 'timeout' })), true);
    assert.equal(new FactFilter(rules({})).accepts(undefined), true, 'no fact filter: everything');
  });
});

describe('enriching sink', () => {
  const ev = (id: string): RelayEvent => ({
    id,
    envelope: `{"events":[{"id":"${id}"}]}`,
    acceptedAt: 0,
  });

  it('sends what is ready, marks the rest skipped (filtered, duplicate) for the loop to acknowledge', async () => {
    const answers: Record<string, Prepared> = {
      a: {
        kind: 'event',
        event: { ...ev('a-final'), envelope: '{"events":[{"id":"a-final"}]}' },
        facts: facts({ signed: true }),
      },
      b: { kind: 'event', event: ev('b'), facts: facts({ signed: false }) },
      c: { kind: 'duplicate', of: 'x' },
    };
    const source: ImageFactsSource = {
      prepare: (e) =>
        Promise.resolve(answers[e.id] ?? { kind: 'event', event: e, facts: undefined }),
    };
    const sent: Delivery[] = [];
    const next: Sink<Delivery> = {
      write: (d) => (sent.push(d), Promise.resolve()),
      close: () => Promise.resolve(),
      destroy: () => undefined,
    };
    const sink = new EnrichingSink({
      next,
      source,
      wanted: undefined,
      filter: new FactFilter(rules({ signed: true })),
    });
    const delivery = new Delivery([ev('a'), ev('b'), ev('c')]);
    await sink.write(delivery);
    assert.deepEqual(
      sent[0]?.events.map((e) => e.id),
      ['a-final'],
    );
    assert.equal(delivery.skipped(delivery.events[0] as RelayEvent), undefined);
    assert.equal(delivery.skipped(delivery.events[1] as RelayEvent), 'filtered');
    assert.equal(delivery.skipped(delivery.events[2] as RelayEvent), 'duplicate');
    // Nothing left to send: the delivery is done without a request.
    const none = new Delivery([ev('c')]);
    await sink.write(none);
    assert.equal(sent.length, 1);
  });
});
