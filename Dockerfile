# syntax=docker/dockerfile:1
# registry-relay on Node.js 24 LTS, Debian 13 slim. Not 26, the newest LTS: the journal's
# better-sqlite3 12.x (the last line that also supports Node 20, which CI runs) supports
# Node 20 to 25; 13.x supports Node 26 but drops 20. Moving to 26 means moving to 13.x,
# and to a cloudevents SDK that declares Node 26 (10.x declares 20 to 24).

ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs the `prepare` script, which compiles src/ to dist/.
RUN npm ci --no-audit --no-fund

FROM ${NODE_IMAGE} AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts skips our `prepare` (tsc, a dev dependency); better-sqlite3's native
# build is then run on its own.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The status page (served at / on the ops listener).
COPY ui ./ui
COPY package.json ./
# The default config; mount your own over it (see docker-compose.yml).
COPY config/relay.yaml /etc/registry-relay/config.yml
# The journal (storage.path ./data): a volume the unprivileged user can write.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data
USER node
EXPOSE 5080 5081
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5081/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts a graceful drain bounded by shutdown.timeout; give docker stop more than that.
# SIGHUP (`docker kill -s HUP`) reloads the config file without a restart.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--config", "/etc/registry-relay/config.yml"]
