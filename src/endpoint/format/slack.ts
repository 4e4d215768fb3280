import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';
import { registryEvent, viewOf, type EventView, type Format } from './format.ts';

const HEADERS = ['content-type', 'application/json'];
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

// Slack's mrkdwn treats these three as markup; everything else is literal.
const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const shortDigest = (digest: string): string => {
  const [algo, hex] = digest.split(':');
  return hex === undefined ? digest : `${algo ?? ''}:${hex.slice(0, 12)}`;
};

/** `*pushed* manifest `team/app:v1.2.0` (sha256:81760fa689a4) by alice on registry.example.com` */
export function slackLine(view: EventView): string {
  const parts = [`*${escape(view.actioned)}* ${view.kind}`];
  if (view.subject !== undefined) parts.push(`\`${escape(view.subject)}\``);
  if (view.digest !== undefined && view.tag !== undefined) {
    parts.push(`(${escape(shortDigest(view.digest))})`);
  }
  if (view.actor !== undefined) parts.push(`by ${escape(view.actor)}`);
  if (view.host !== undefined) parts.push(`on ${escape(view.host)}`);
  // With enrichment: what the image is, and whether anything signs it.
  if (view.platforms !== undefined) parts.push(`· ${escape(view.platforms)}`);
  if (view.signed !== undefined) parts.push(view.signed ? '· signed' : '· *unsigned*');
  const unavailable = str(view.image?.['unavailable']);
  if (unavailable !== undefined) parts.push(`· facts unavailable (${escape(unavailable)})`);
  return parts.join(' ');
}

/**
 * A Slack incoming-webhook message (`{"text": ...}`): one line per event, so a batch is
 * one message. Also accepted by Mattermost and Rocket.Chat incoming webhooks.
 */
export const slackFormat: Format = {
  render(events: readonly RelayEvent[]): Payload {
    const text = events.map((e) => slackLine(viewOf(registryEvent(e)))).join('\n');
    return { body: JSON.stringify({ text }), headers: HEADERS };
  },
};
