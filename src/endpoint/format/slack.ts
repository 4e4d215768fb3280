import { countsText, type EventKind } from '../../core/kinds.ts';
import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';
import {
  obj,
  registryEvent,
  str,
  viewOf,
  type EventView,
  type Format,
  type Json,
} from './format.ts';

const HEADERS = ['content-type', 'application/json'];
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

// Slack's mrkdwn treats these three as markup; everything else is literal.
const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const shortDigest = (digest: string): string => {
  const [algo, hex] = digest.split(':');
  return hex === undefined ? digest : `${algo ?? ''}:${hex.slice(0, 12)}`;
};

/** `<url|text>`, Slack's link, for an http(s) URL only (anything else is left out). */
const link = (url: unknown, text: string): string | undefined => {
  const u = str(url);
  return u !== undefined && /^https?:\/\//.test(u) && !/[<>|\s]/.test(u)
    ? `<${u}|${escape(text)}>`
    : undefined;
};

const code = (text: string): string => `\`${escape(text)}\``;

/** The image an event is about: `repo:tag (sha256:…)`, or the repository, or nothing. */
function subjectText(view: EventView): string | undefined {
  if (view.subject === undefined) return undefined;
  const digest =
    view.digest !== undefined && view.tag !== undefined
      ? ` (${escape(shortDigest(view.digest))})`
      : '';
  return `${code(view.subject)}${digest}`;
}

const tagsText = (tags: readonly string[]): string | undefined =>
  tags.length === 0 ? undefined : `tags ${tags.map(code).join(', ')}`;

const bytes = (n: number | undefined): string | undefined => {
  if (n === undefined) return undefined;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : v.toFixed(1)} ${units[i] ?? 'B'}`;
};

/** `render(value)`, or undefined when there is no value: one optional part of a line. */
const part = <T>(value: T | undefined, render: (v: T) => string): string | undefined =>
  value === undefined ? undefined : render(value);

/** The parts given, space-separated; a part that starts with `: ` follows the previous one. */
const join = (parts: readonly (string | undefined)[]): string =>
  parts
    .filter((p): p is string => p !== undefined && p !== '')
    .reduce((line, p, i) => (i === 0 ? p : p.startsWith(': ') ? line + p : `${line} ${p}`), '');

/** One line for an event of a kind beyond the registry's actions, by kind. */
const KIND_LINES: Readonly<Record<EventKind, (view: EventView, d: Json) => string>> = {
  scan(view, d) {
    const counts = countsText(obj(d['counts']));
    const found = d['status'] === 'completed';
    const scanner = obj(d['scanner']);
    const by = str(scanner['name']);
    return join([
      found && counts !== undefined
        ? ':rotating_light: *vulnerabilities found* in'
        : `*scan ${escape(view.state)}*${found ? ': nothing found in' : ' for'}`,
      subjectText(view),
      part(counts, (v) => `— ${escape(v)}`),
      part(num(d['fixable']), (n) => `(${String(n)} fixable)`),
      by === undefined
        ? undefined
        : `· ${escape(by)}${str(scanner['version']) === undefined ? '' : ` ${escape(String(scanner['version']))}`}`,
      part(view.host, (v) => `on ${escape(v)}`),
      link(d['report'], 'report'),
    ]);
  },
  vulnerability(view, d) {
    const sev = str(d['severity']);
    return join([
      `:warning: *vulnerability* ${escape(str(d['id']) ?? '?')}`,
      sev === undefined && d['fixable'] === undefined
        ? undefined
        : `(${[
            sev,
            d['fixable'] === true ? 'fix available' : d['fixable'] === false ? 'no fix' : undefined,
          ]
            .filter(Boolean)
            .map((s) => escape(String(s)))
            .join(', ')})`,
      'in',
      subjectText(view),
      view.tag === undefined ? tagsText(list(d['tags'])) : undefined,
      part(str(d['description']), (v) => `: ${escape(v)}`),
      link(d['link'], 'details'),
    ]);
  },
  build(view, d) {
    const trigger = obj(d['trigger']);
    const commit = str(trigger['commit']);
    const failed = view.state === 'failed';
    return join([
      `${failed ? ':x: ' : view.state === 'succeeded' ? ':white_check_mark: ' : ''}*build ${escape(view.state)}*`,
      code(view.repository ?? '?'),
      part(str(d['name']), escape),
      part(tagsText(list(d['tags'])), (t) => `(${t})`),
      str(trigger['ref']) === undefined && commit === undefined
        ? undefined
        : `from ${escape([str(trigger['ref']), commit?.slice(0, 7)].filter(Boolean).join('@'))}`,
      part(str(d['error']), (v) => `: ${escape(v)}`),
      link(d['link'], 'build'),
    ]);
  },
  quota(view, d) {
    const used = bytes(num(d['usedBytes']));
    const limit = bytes(num(d['limitBytes']));
    const percent = num(d['usedPercent']);
    return join([
      `${view.state === 'exceeded' ? ':no_entry: ' : ':warning: '}*quota ${escape(view.state)}*`,
      part(str(d['namespace']), (v) => `for ${code(v)}`),
      part(view.repository, (v) => `(${code(v)})`),
      used === undefined || limit === undefined
        ? undefined
        : `: ${used} of ${limit}${percent === undefined ? '' : ` (${String(percent)}%)`}`,
      part(str(d['message']), (v) => `: ${escape(v)}`),
    ]);
  },
  replication(view, d) {
    const policy = str(obj(d['policy'])['description']);
    const to = obj(d['destination']);
    return join([
      `*replication ${escape(view.state)}*`,
      part(policy, code),
      `: ${String(num(d['succeeded']) ?? 0)} succeeded, ${String(num(d['failed']) ?? 0)} failed`,
      part(subjectText(view), (t) => `(${t})`),
      part(str(to['endpoint']), (v) => `to ${escape(v)}`),
    ]);
  },
  retention(view, d) {
    return join([
      `*tag retention ${escape(view.state)}*`,
      part(str(d['project']), (v) => `in ${code(v)}`),
      `: ${String(num(d['total']) ?? '?')} total, ${String(num(d['retained']) ?? '?')} retained, ${String(num(d['deleted']) ?? 0)} deleted`,
    ]);
  },
  expiry(view, d) {
    const tags = list(d['tags']);
    return join([
      ':hourglass: *tags expiring*',
      part(str(d['in']), (v) => `in ${escape(v)}:`),
      code(view.repository ?? '?'),
      tagsText(tags),
    ]);
  },
  repository(view, d) {
    return repositoryLine(view, d);
  },
  lint(view) {
    return join(['*lint failed*', subjectText(view)]);
  },
  mirror(view, d) {
    return join([
      `*mirror sync ${escape(view.state)}*`,
      code(view.repository ?? '?'),
      part(str(d['message']), (v) => `: ${escape(v)}`),
    ]);
  },
};

function repositoryLine(view: EventView, d: Json): string {
  const from = str(d['from']);
  const to = str(d['to']);
  return join([
    `*repository ${escape(view.state)}*`,
    from !== undefined && to !== undefined
      ? `${code(from)} → ${code(to)}`
      : code(view.repository ?? '?'),
    part(view.actor, (v) => `by ${escape(v)}`),
    part(view.host, (v) => `on ${escape(v)}`),
  ]);
}

/**
 * One line per event. A registry action: `*pushed* manifest `team/app:v1.2.0`
 * (sha256:81760fa689a4) by alice on registry.example.com`. The other kinds each have
 * their own: a scan's counts by severity, a build's result, an expiry's tags…
 */
export function slackLine(view: EventView): string {
  const lines = KIND_LINES[view.action as EventKind] as
    ((view: EventView, d: Json) => string) | undefined;
  if (lines !== undefined) return lines(view, view.detail ?? {});
  if (view.kind === 'repository') return repositoryLine(view, view.detail ?? {});
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
