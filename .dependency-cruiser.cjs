// The layers of src/, lowest first: a module imports from its own layer or a lower one,
// never from one above nor from a sibling on its level. The stages never import the config:
// config compiles itself with their compilers (patterns, templates, TLS) into plain plans,
// and the relay hands those down. `npm run lint` runs it, and so CI.
const LAYERS = [
  // Events, the clock, errors, redaction, rings, tokens: what every layer speaks.
  ['core', 0, '^src/core/'],
  // The attempts log and event whereabouts, in memory.
  ['history', 1, '^src/history/'],
  // OpenTelemetry: the SDK behind core's Tracing interface.
  ['telemetry', 1, '^src/telemetry/'],
  // Where events wait: memory, the SQLite journal, NATS JetStream.
  ['storage', 2, '^src/(storage|journal|nats)/'],
  // One endpoint's stages: filter, delivery loop, retry, format, HTTP.
  ['endpoint', 3, '^src/endpoint/'],
  // Other registries' webhook bodies read into registry events (pure).
  ['sources', 3, '^src/sources/'],
  // The registries' own API: sign-in, manifests, referrers, facts (read, never written).
  ['registry', 3, '^src/registry/'],
  // The config file, parsed and compiled into plans.
  ['config', 4, '^src/config/'],
  ['metrics', 5, '^src/metrics/'],
  ['ingest', 6, '^src/ingest/'],
  ['ops', 6, '^src/ops/'],
  // The composition root: storage chosen, endpoints assembled, listeners started.
  ['relay', 7, '^src/relay/'],
  ['cli', 8, '^src/(cli/|main\\.ts$)'],
];

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'A cycle makes two modules one; break it with an interface in the lower one.',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'src-only',
    severity: 'error',
    comment: 'The daemon never imports tests, benchmarks or scripts.',
    from: { path: '^src/' },
    to: { path: '^(test|bench|scripts)/' },
  },
  {
    name: 'layer-unplaced',
    severity: 'error',
    comment: 'Every module of src/ belongs to a layer (see LAYERS).',
    from: { path: '^src/', pathNot: LAYERS.map(([, , p]) => p) },
    to: {},
  },
];
for (const [name, level, path] of LAYERS) {
  const above = LAYERS.filter(([other, l]) => other !== name && l >= level);
  if (above.length === 0) continue;
  forbidden.push({
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} looks down only: not at ${above.map(([o]) => o).join(', ')}`,
    from: { path },
    to: { path: above.map(([, , p]) => p) },
  });
}

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
