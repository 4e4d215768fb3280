// The relay's status page: plain browser modules, no build step, no network beyond the
// relay's own admin API. Every value from the API is put in the page as text (never as
// HTML): receivers' answers are shown as they came.

const API = '/api/v1';
const TOKEN_KEY = 'registry-relay-admin-token';
const REFRESH_MS = 2000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  /** The endpoint whose attempts are shown, if any. */
  attemptsOf: undefined,
  endpoints: [],
  /** Attempts the reader opened: they stay open across refreshes. */
  open: new Set(),
};

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return el;
}

const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const headers = {};
  if (state.token !== '') headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data;
  try {
    data = await res.json();
  } catch {
    data = { error: 'bad_answer', message: `${res.status} ${res.statusText}` };
  }
  return { ok: res.ok, status: res.status, data };
}

function say(text, isError = false) {
  const el = $('message');
  el.textContent = text;
  el.classList.toggle('hidden', text === '');
  el.classList.toggle('error', isError);
}

function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function age(seconds) {
  if (seconds === undefined) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** healthy, limited, failing, paused or disabled: what the card's colour says. */
function health(e) {
  if (e.state === 'paused') return 'paused';
  if (e.state === 'rate-limited') return 'limited';
  if (e.state === 'disabled') return 'disabled';
  if (e.state === 'retrying' || e.state === 'backing-off') return 'failing';
  return 'healthy';
}

/** Delivered (green) and failed (red) per second over the last minute, one SVG. */
function sparkline(delivered, failed) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 120 36');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const total = (xs) => xs.reduce((a, b) => a + b, 0);
  svg.setAttribute(
    'aria-label',
    `last minute: ${total(delivered)} delivered, ${total(failed)} failed`,
  );
  const max = Math.max(1, ...delivered, ...failed);
  for (const [series, cls] of [
    [delivered, 'delivered'],
    [failed, 'failed'],
  ]) {
    const line = document.createElementNS(ns, 'polyline');
    const step = 120 / Math.max(1, series.length - 1);
    line.setAttribute(
      'points',
      series
        .map((v, i) => `${(i * step).toFixed(1)},${(34 - (v / max) * 32).toFixed(1)}`)
        .join(' '),
    );
    line.setAttribute('class', cls);
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke-width', '1.5');
    svg.append(line);
  }
  return svg;
}

const canWrite = () => state.token !== '' && state.writable;

function endpointCard(e) {
  const kind = health(e);
  const failure = e.lastFailure;
  const writable = canWrite();
  const button = (label, action, disabled = false) =>
    h(
      'button',
      {
        type: 'button',
        'data-action': action,
        disabled: disabled || !writable,
        title: writable ? undefined : 'needs an admin token (http.debug.auth.tokens)',
        onclick: () => act(action, e.name),
      },
      label,
    );
  return h(
    'article',
    { class: `card ${kind}`, 'data-endpoint': e.name, 'data-health': kind },
    h(
      'h3',
      {},
      h('span', {}, e.name),
      h('span', { class: 'badge', 'data-testid': 'state' }, e.state),
    ),
    h('div', { class: 'muted' }, e.url),
    h(
      'dl',
      {},
      h('div', {}, h('dt', {}, 'pending'), h('dd', { 'data-testid': 'pending' }, e.pending)),
      h('div', {}, h('dt', {}, 'oldest'), h('dd', {}, age(e.oldestPendingAgeSeconds))),
      h('div', {}, h('dt', {}, 'in flight'), h('dd', {}, e.inFlight)),
      h('div', {}, h('dt', {}, 'delivered /min'), h('dd', {}, e.lastMinute.delivered)),
      h('div', {}, h('dt', {}, 'failed /min'), h('dd', {}, e.lastMinute.failed)),
      h('div', {}, h('dt', {}, 'last success'), h('dd', {}, ago(e.lastSuccess?.at))),
      e.rateLimit
        ? h(
            'div',
            {},
            h('dt', {}, 'rate limit'),
            h(
              'dd',
              { 'data-testid': 'rate-limit' },
              `${e.rateLimit.requests}/${e.rateLimit.perSeconds} s · ${e.rateLimit.waiting} waiting`,
            ),
          )
        : undefined,
    ),
    sparkline(e.lastMinute.deliveredPerSecond, e.lastMinute.failedPerSecond),
    failure
      ? h(
          'p',
          { class: 'failure', 'data-testid': 'last-failure' },
          `last failure ${ago(failure.at)}: `,
          failure.status === undefined ? failure.code : String(failure.status),
          failure.message ? ` (${failure.message})` : '',
          e.breaker.nextAttemptAt
            ? ` · next attempt ${new Date(e.breaker.nextAttemptAt).toLocaleTimeString()}`
            : '',
        )
      : undefined,
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', 'data-action': 'attempts', onclick: () => showAttempts(e.name) },
        'Attempts',
      ),
      button('Test', 'test', e.disabled),
      e.paused ? button('Resume', 'resume') : button('Pause', 'pause', e.disabled),
      state.durable ? button('Replay dead letters', 'replay') : undefined,
    ),
  );
}

async function act(action, name) {
  say('');
  const path =
    action === 'replay'
      ? '/dead-letters/replay'
      : `/endpoints/${encodeURIComponent(name)}/${action}`;
  const res = await api('POST', path, action === 'replay' ? { endpoint: name } : undefined);
  if (!res.ok) {
    say(`${action} ${name}: ${res.data.message ?? res.data.error}`, true);
  } else if (action === 'test') {
    const o = res.data;
    say(
      `test ${name}: ${o.ok ? 'ok' : 'failed'} · ${o.status ?? o.code} in ${Math.round(o.durationMs)} ms${o.message ? ` · ${o.message}` : ''}`,
      !o.ok,
    );
  } else if (action === 'replay') {
    say(`replayed ${res.data.replayed} dead letters of ${name}`);
  } else {
    say(`${name} ${action === 'pause' ? 'paused' : 'resumed'}`);
  }
  await refresh();
  if (state.attemptsOf === name) await loadAttempts();
}

function attemptItem(a) {
  const status = a.response ? String(a.response.status) : a.code;
  const headers = (obj) =>
    Object.entries(obj ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  const details = h(
    'details',
    { open: state.open.has(a.seq) },
    h(
      'summary',
      {},
      h('strong', { 'data-testid': 'attempt-status' }, status),
      h('span', {}, new Date(a.at).toLocaleTimeString()),
      h('span', {}, `${Math.round(a.durationMs)} ms`),
      h('span', {}, `${a.eventIds.length} event${a.eventIds.length === 1 ? '' : 's'}`),
      h('span', { class: 'muted' }, a.relay),
    ),
    h(
      'div',
      { class: 'detail' },
      h(
        'div',
        {},
        h('h4', {}, `Request · ${a.request.method} ${a.request.url}`),
        h('pre', {}, headers(a.request.headers)),
        h('h4', {}, `Body · ${a.request.bodySize} bytes`),
        h('pre', { 'data-testid': 'request-body' }, a.request.body ?? '(shown with a token)'),
      ),
      h(
        'div',
        {},
        h('h4', {}, a.response ? `Answer · ${a.response.status}` : `No answer · ${a.code}`),
        a.response ? h('pre', {}, headers(a.response.headers)) : undefined,
        a.response
          ? h('pre', { 'data-testid': 'response-body' }, a.response.body ?? '(shown with a token)')
          : undefined,
        a.message ? h('p', { class: 'failure' }, a.message) : undefined,
      ),
    ),
  );
  details.addEventListener('toggle', () => {
    if (details.open) state.open.add(a.seq);
    else state.open.delete(a.seq);
  });
  return h('li', { class: `result-${a.result}`, 'data-result': a.result }, details);
}

async function loadAttempts() {
  const name = state.attemptsOf;
  if (name === undefined) return;
  const filter = $('attempts-filter').value;
  const res = await api(
    'GET',
    `/endpoints/${encodeURIComponent(name)}/attempts?limit=50${filter ? `&status=${filter}` : ''}`,
  );
  const list = $('attempts');
  if (!res.ok) {
    list.replaceChildren(h('li', { class: 'notice error' }, res.data.message ?? res.data.error));
    return;
  }
  list.replaceChildren(
    ...(res.data.attempts.length === 0
      ? [h('li', { class: 'muted' }, 'no attempts yet')]
      : res.data.attempts.map(attemptItem)),
  );
}

async function showAttempts(name) {
  if (state.attemptsOf !== name) state.open.clear();
  state.attemptsOf = name;
  $('attempts-endpoint').textContent = name;
  $('attempts-section').classList.remove('hidden');
  await loadAttempts();
  $('attempts-section').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

async function loadDeadLetters() {
  const el = $('dead');
  const res = await api('GET', '/dead-letters');
  if (res.status === 409) {
    state.durable = false;
    el.replaceChildren(h('p', { class: 'muted' }, res.data.message));
    return;
  }
  state.durable = true;
  if (!res.ok) {
    el.replaceChildren(h('p', { class: 'notice error' }, res.data.message));
    return;
  }
  const byEndpoint = new Map();
  for (const d of res.data.deadLetters)
    byEndpoint.set(d.endpoint, (byEndpoint.get(d.endpoint) ?? 0) + 1);
  el.replaceChildren(
    byEndpoint.size === 0
      ? h('p', { class: 'muted' }, 'none')
      : h(
          'table',
          {},
          h('tr', {}, h('th', {}, 'endpoint'), h('th', {}, 'dead letters')),
          ...[...byEndpoint].map(([name, n]) =>
            h(
              'tr',
              { 'data-endpoint': name },
              h('td', {}, name),
              h('td', { 'data-testid': 'dead-count' }, n),
            ),
          ),
        ),
  );
}

/** A registry's walks: the last one's outcome and when the next is due. */
function reconcileText(rc) {
  if (!rc) return 'off';
  const parts = [];
  if (rc.running) parts.push('walking now');
  const last = rc.lastPass;
  if (last) {
    parts.push(
      `last ${ago(last.finishedAt)}: ${last.result}, ${last.pushes} pushes, ${last.deletes} deletes, ${last.tags} tags, ${last.requests} requests${last.error ? ` (${last.error})` : ''}`,
    );
  }
  if (rc.nextPassAt && !rc.running)
    parts.push(`next ${new Date(rc.nextPassAt).toLocaleTimeString()}`);
  return parts.join(' · ') || 'waiting for the first walk';
}

/** The registries facts are read from: whether each answers, and why not. */
async function loadRegistries() {
  const res = await api('GET', '/registries');
  if (!res.ok) return;
  const list = res.data.registries;
  $('registries-section').classList.toggle('hidden', list.length === 0);
  $('registries').replaceChildren(
    h(
      'table',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'registry'),
        h('th', {}, 'state'),
        h('th', {}, 'last answer'),
        h('th', {}, 'last error'),
        h('th', {}, 'digests known'),
        h('th', {}, 'reconciliation'),
      ),
      ...list.map((r) =>
        h(
          'tr',
          { 'data-registry': r.name },
          h('td', {}, `${r.name} (${r.url}, ${r.auth})`),
          h(
            'td',
            { 'data-testid': 'registry-state', class: r.state === 'failing' ? 'bad' : '' },
            r.state,
          ),
          h('td', {}, r.lastSuccessAt ? ago(r.lastSuccessAt) : 'never'),
          h(
            'td',
            {},
            r.lastError
              ? `${r.lastError.reason}: ${r.lastError.message} (${ago(r.lastError.at)})`
              : '',
          ),
          h('td', {}, r.cachedDigests),
          h('td', { 'data-testid': 'registry-reconcile' }, reconcileText(r.reconcile)),
        ),
      ),
    ),
  );
}

async function loadInstances() {
  const res = await api('GET', '/instances');
  if (!res.ok) return;
  const list = res.data.instances;
  const self = list.find((i) => i.self);
  $('instance').textContent = self
    ? `this relay: ${self.id}, up since ${new Date(self.startedAt).toLocaleString()}`
    : '';
  $('instances-section').classList.toggle('hidden', list.length < 2);
  $('instances').replaceChildren(
    h(
      'table',
      {},
      h('tr', {}, h('th', {}, 'relay'), h('th', {}, 'seen'), h('th', {}, 'endpoints')),
      ...list.map((i) =>
        h(
          'tr',
          {},
          h('td', {}, i.id, i.self ? ' (this one)' : ''),
          h('td', {}, ago(i.seenAt)),
          h(
            'td',
            {},
            i.endpoints.map((e) => `${e.name}: ${e.state}, ${e.pending} pending`).join(' · '),
          ),
        ),
      ),
    ),
  );
}

async function refresh() {
  const res = await api('GET', '/endpoints');
  if (!res.ok) {
    say(res.data.message ?? 'cannot read the endpoints', true);
    return;
  }
  state.endpoints = res.data.endpoints;
  $('endpoints').replaceChildren(...state.endpoints.map(endpointCard));
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function probeMode() {
  const res = await api('GET', '/session');
  state.writable = res.ok && res.data.authorized;
  const mode = $('mode');
  if (res.ok && res.data.readOnly) {
    mode.textContent =
      'Read-only: this relay has no admin tokens (http.debug.auth.tokens), so nothing can be changed here and no bodies are shown.';
  } else if (!state.writable) {
    mode.textContent = state.token
      ? 'That token is not accepted: read-only, no bodies shown.'
      : 'Enter an admin token to see bodies and to test, pause, resume and replay.';
  } else {
    mode.textContent = 'Signed in with an admin token: bodies shown, actions enabled.';
  }
}

async function tick() {
  try {
    await refresh();
    if (state.attemptsOf !== undefined) await loadAttempts();
  } catch (err) {
    say(`the relay does not answer: ${err.message}`, true);
  }
}

async function start() {
  $('token').value = state.token;
  $('token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    await probeMode();
    await tick();
    await loadDeadLetters();
  });
  $('forget-token').addEventListener('click', async () => {
    state.token = '';
    $('token').value = '';
    sessionStorage.removeItem(TOKEN_KEY);
    await probeMode();
    await tick();
  });
  $('attempts-close').addEventListener('click', () => {
    state.attemptsOf = undefined;
    $('attempts-section').classList.add('hidden');
  });
  $('attempts-filter').addEventListener('change', () => void loadAttempts());
  await probeMode();
  await loadDeadLetters();
  await Promise.all([tick(), loadInstances(), loadRegistries()]);
  document.body.dataset.ready = 'true';
  setInterval(() => void tick(), REFRESH_MS);
  setInterval(() => {
    void loadDeadLetters();
    void loadInstances();
    void loadRegistries();
  }, REFRESH_MS * 2.5);
}

void start();
