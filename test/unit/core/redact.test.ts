import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../../../src/core/redact.ts';

describe('redactUrl', () => {
  it('keeps scheme, host and port; replaces path, query and userinfo by a fingerprint', () => {
    const slack = redactUrl('https://hooks.slack.com/services/T000/B000/XXXXSECRET');
    assert.match(slack, /^https:\/\/hooks\.slack\.com\/…#[0-9a-f]{8}$/);
    assert.ok(!slack.includes('SECRET'));
    const token = redactUrl('http://ci.internal:8080/hook?token=abc123');
    assert.match(token, /^http:\/\/ci\.internal:8080\/…#[0-9a-f]{8}$/);
    const user = redactUrl('https://bot:pw@ci.internal/');
    assert.ok(!user.includes('bot') && !user.includes('pw'), user);
  });

  it('tells two endpoints on one host apart, and the same URL always the same way', () => {
    const a = redactUrl('https://hooks.slack.com/services/T/B/one');
    const b = redactUrl('https://hooks.slack.com/services/T/B/two');
    assert.notEqual(a, b);
    assert.equal(a, redactUrl('https://hooks.slack.com/services/T/B/one'));
  });

  it('shows a URL with nothing after the host as it is', () => {
    assert.equal(redactUrl('http://consumer:9000'), 'http://consumer:9000/');
    assert.equal(redactUrl('http://consumer:9000/'), 'http://consumer:9000/');
  });
});
