import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { closedAfterTests, envelope, pushEvent, V1 } from '../../support/helpers.ts';

const scope = closedAfterTests();

const tagged = (repository: string, tag: string, extra: Record<string, unknown> = {}) =>
  pushEvent({
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:81760fa689a4d3d4e08b46aaee01a5893ccb981f604321270edc07ce89577267',
      size: 421,
      repository,
      tag,
      url: `http://registry.example.com/v2/${repository}/manifests/sha256:81760fa689a4d3d4e08b46aaee01a5893ccb981f604321270edc07ce89577267`,
    },
    request: {
      id: 'r1',
      addr: '10.0.0.7:1',
      host: 'registry.example.com',
      method: 'PUT',
      useragent: 't',
    },
    actor: { name: 'alice' },
    ...extra,
  });

async function deliver(
  endpoint: Record<string, unknown>,
  events: Record<string, unknown>[],
  requests = 1,
) {
  const rx = await scope.receiver();
  const relay = await scope.relay([{ name: 'ep', url: rx.url, ...endpoint }]);
  assert.equal((await relay.post(envelope(...events))).status, 202);
  await rx.waitFor(requests);
  return rx.requests;
}

describe('format: envelope (the default)', () => {
  it('sends the registry envelope, byte for byte what a batch of these events would be', async () => {
    const events = [tagged('team/app', 'v1'), tagged('team/app', 'v2'), tagged('team/web', 'v3')];
    const [one] = await deliver({}, [events[0] ?? {}]);
    assert.ok(one);
    assert.equal(one.headers['content-type'], V1);
    assert.equal(one.body, envelope(events[0] ?? {}));
    const [batch] = await deliver({ batch: { maxEvents: 10 } }, events);
    assert.ok(batch);
    assert.equal(batch.headers['content-type'], V1);
    assert.equal(batch.body, envelope(...events), 'one request, the three events in order');
  });
});

describe('format: cloudevents', () => {
  const event = tagged('team/app', 'v1.2.0');

  it('binary mode: ce-* headers, the registry event as the body, parsed back by the SDK', async () => {
    const [req] = await deliver({ format: 'cloudevents' }, [event]);
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['ce-specversion'], '1.0');
    assert.equal(req.headers['ce-id'], event['id']);
    assert.equal(req.headers['ce-type'], 'registry.manifest.pushed');
    assert.equal(req.headers['ce-source'], '//vm:5000');
    assert.equal(req.headers['ce-subject'], 'team/app:v1.2.0');
    assert.equal(req.headers['ce-time'], '2026-11-23T01:02:48.260Z');
    assert.deepEqual(JSON.parse(req.body), event);
    const ce = HTTP.toEvent({ headers: req.headers, body: req.body }) as CloudEvent;
    assert.equal(ce.type, 'registry.manifest.pushed');
    assert.equal(ce.subject, 'team/app:v1.2.0');
    assert.deepEqual(ce.data, event);
  });

  it('structured mode, with a configured source', async () => {
    const [req] = await deliver(
      {
        format: { type: 'cloudevents', mode: 'structured', source: 'https://registry.example.com' },
      },
      [event],
    );
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    assert.equal(req.headers['ce-id'], undefined);
    const ce = HTTP.toEvent({ headers: req.headers, body: req.body }) as CloudEvent;
    assert.equal(ce.id, event['id']);
    assert.equal(ce.source, 'https://registry.example.com');
    assert.deepEqual(ce.data, event);
  });

  it('batched mode: one JSON array of structured events per request', async () => {
    const deleted = pushEvent({ action: 'delete', target: { repository: 'team/app', tag: 'old' } });
    const blob = pushEvent({
      action: 'pull',
      target: {
        mediaType: 'application/octet-stream',
        digest: 'sha256:e7ed',
        repository: 'team/app',
      },
    });
    const [req] = await deliver(
      { format: { type: 'cloudevents', mode: 'batched' }, batch: { maxEvents: 5 } },
      [event, deleted, blob],
    );
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/cloudevents-batch+json; charset=utf-8');
    const batch = HTTP.toEvent({ headers: req.headers, body: req.body }) as CloudEvent[];
    assert.deepEqual(
      batch.map((ce) => [ce.id, ce.type, ce.subject]),
      [
        [event['id'], 'registry.manifest.pushed', 'team/app:v1.2.0'],
        [deleted['id'], 'registry.tag.deleted', 'team/app:old'],
        [blob['id'], 'registry.blob.pulled', 'team/app@sha256:e7ed'],
      ],
    );
  });
});

describe('format: slack', () => {
  it('posts one readable line per event: action, repository:tag, digest, actor, registry', async () => {
    const events = [tagged('team/app', 'v1.2.0'), tagged('team/<script>', 'x&y')];
    const [req] = await deliver({ format: 'slack', batch: { maxEvents: 2 } }, events);
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body), {
      text: [
        '*pushed* manifest `team/app:v1.2.0` (sha256:81760fa689a4) by alice on registry.example.com',
        '*pushed* manifest `team/&lt;script&gt;:x&amp;y` (sha256:81760fa689a4) by alice on registry.example.com',
      ].join('\n'),
    });
  });
});

describe('format: template', () => {
  it('renders the JSON body, keeping the type of a whole-string reference', async () => {
    const event = tagged('team/app', 'v1.2.0');
    const [req] = await deliver(
      {
        format: {
          type: 'template',
          body: {
            repository: '{{ repository }}',
            namespace: '{{namespace}}',
            name: '{{ name }}',
            docker_url: '{{ host }}/{{ repository }}',
            updated_tags: ['{{ tag }}'],
            size: '{{ event.target.size }}',
            pusher: '{{ event.actor.name }} via {{ event.request.useragent }}',
            from: '{{ event.target.fromRepository }}',
            fixed: 42,
          },
        },
      },
      [event],
    );
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body), {
      repository: 'team/app',
      namespace: 'team',
      name: 'app',
      docker_url: 'registry.example.com/team/app',
      updated_tags: ['v1.2.0'],
      size: 421,
      pusher: 'alice via t',
      from: null,
      fixed: 42,
    });
  });

  it('takes JSON text as the body, as Quay does, with its own content type', async () => {
    const [req] = await deliver(
      {
        format: {
          type: 'template',
          contentType: 'application/vnd.example+json',
          body: '{"text": "{{ actor }} pushed {{ subject }}"}',
        },
      },
      [tagged('team/app', 'v1')],
    );
    assert.ok(req);
    assert.equal(req.headers['content-type'], 'application/vnd.example+json');
    assert.equal(req.body, '{"text":"alice pushed team/app:v1"}');
  });
});
