import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Signer } from '../../../src/endpoint/signing.ts';
import { closedAfterTests, envelope, pushEvent, type Received } from '../../support/helpers.ts';

// The Standard Webhooks specification's test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const OTHER = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

const headersOf = (r: Received): Record<string, string> =>
  Object.fromEntries(
    ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(r.headers[h])]),
  );

describe('Standard Webhooks signatures', () => {
  it("reproduces the specification's test vector", () => {
    const signer = new Signer([VECTOR.secret]);
    assert.equal(signer.signature(VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    assert.deepEqual(signer.headers(VECTOR.id, VECTOR.timestamp, VECTOR.body), [
      'webhook-id',
      VECTOR.id,
      'webhook-timestamp',
      '1614265330',
      'webhook-signature',
      VECTOR.signature,
    ]);
    // The reference library agrees (its own sign, and its verify of the relay's headers).
    const wh = new Webhook(VECTOR.secret);
    assert.equal(
      wh.sign(VECTOR.id, new Date(VECTOR.timestamp * 1000), VECTOR.body),
      VECTOR.signature,
    );
  });

  const scope = closedAfterTests();

  it('signs every attempt; the standardwebhooks package verifies it; the id survives retries', async () => {
    let calls = 0;
    const rx = await scope.receiver((_req, res) => {
      calls += 1;
      res.writeHead(calls <= 2 ? 500 : 204).end();
    });
    const relay = await scope.relay([
      { name: 'ci', url: rx.url, signing: { secret: VECTOR.secret } },
    ]);
    const event = pushEvent();
    assert.equal((await relay.post(envelope(event))).status, 202);
    await rx.waitFor(3);
    const ids = rx.requests.map((r) => r.headers['webhook-id']);
    assert.deepEqual(ids, [event['id'], event['id'], event['id']], 'one id for all attempts');
    for (const r of rx.requests) {
      // What a receiver writes: verify(raw body, headers) throws unless signed with the secret.
      const payload = new Webhook(VECTOR.secret).verify(r.body, headersOf(r));
      assert.deepEqual(payload, { events: [event] });
      assert.throws(() => new Webhook(OTHER).verify(r.body, headersOf(r)), /No matching signature/);
      const age = Date.now() / 1000 - Number(r.headers['webhook-timestamp']);
      assert.ok(age >= 0 && age < 60, 'the timestamp is the attempt time');
    }
  });

  it('signs with each secret during a rotation, and gives a batch an id of its own', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay([
      {
        name: 'ci',
        url: rx.url,
        signing: { secrets: [VECTOR.secret, OTHER] },
        batch: { maxEvents: 5 },
      },
    ]);
    const events = [pushEvent(), pushEvent()];
    assert.equal((await relay.post(envelope(...events))).status, 202);
    await rx.waitFor(1);
    const [r] = rx.requests;
    assert.ok(r);
    assert.equal(String(r.headers['webhook-signature']).split(' ').length, 2);
    assert.match(String(r.headers['webhook-id']), /^batch_[A-Za-z0-9_-]{27}$/);
    for (const secret of [VECTOR.secret, OTHER]) {
      assert.deepEqual(new Webhook(secret).verify(r.body, headersOf(r)), { events });
    }
    const third = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    assert.throws(() => new Webhook(third).verify(r.body, headersOf(r)));
  });
});
