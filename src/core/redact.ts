import { createHash } from 'node:crypto';

/**
 * An endpoint URL as the relay shows it (in /debug/vars, metrics, logs, CLI output): the
 * scheme, host and port, and in place of everything else a short fingerprint of it.
 * Webhook URLs carry their secret in the path or query (Slack's
 * `/services/T…/B…/SECRET`, `?token=…`) or in the userinfo, and the ops listener has no
 * authentication; the fingerprint still tells two endpoints on one host apart, and an
 * operator who knows a URL can compute it to check which one is meant.
 *
 * `https://hooks.slack.com/services/T0/B0/XYZ` → `https://hooks.slack.com/…#3f2a9c1e`;
 * a URL with nothing after the host (`http://consumer:8080/`) is shown as it is.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `(not a URL)#${fingerprint(raw)}`;
  }
  const origin = `${url.protocol}//${url.host}`;
  const rest = `${url.username}:${url.password}@${url.pathname}${url.search}${url.hash}`;
  if (rest === ':@/') return `${origin}/`;
  return `${origin}/…#${fingerprint(raw)}`;
}

function fingerprint(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
