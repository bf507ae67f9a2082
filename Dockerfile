# One Dockerfile, two images, and a third for the benchmark:
#   --target app        the polls service (also runs the one-shot secrets and migrate services)
#   --target nginx      the proxy, serving the web page built from web/
#   --target bench-wrk  wrk, the benchmark's load generator inside the stack (bench/)
# Every stage is Debian bookworm, so argon2's native binary built here runs in the runtime.
# Offline hosts swap the base images by build argument (scripts/offline-images/offline.env).

ARG NODE_IMAGE=node:24-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- dependencies, with dev tools for the build -----------------------------------------
# The only install: the production dependencies below are these, pruned, so both come from
# one resolution of the lockfile and argon2's native addon is installed once.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# A TLS-intercepting proxy's CA arrives as an optional build secret: it is used for this
# command only and never stored in a layer. The npm cache mount makes rebuilds fast.
RUN --mount=type=secret,id=build_ca,required=false \
    --mount=type=cache,target=/root/.npm \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm ci --no-audit --no-fund

# --- compile TypeScript -------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY app app
COPY db db
COPY scripts/*.ts scripts/
RUN npm run build:server

# --- the web page (static files for nginx) ------------------------------------------------
FROM deps AS web
COPY vite.config.ts ./
COPY web web
RUN npm run build:web

# --- production dependencies only -----------------------------------------------------------
# Pruning only deletes packages, so it needs no network (and no CA). It leaves the folders of
# scopes that held only dev packages behind, empty.
FROM deps AS prod-deps
RUN --network=none npm prune --omit=dev --no-audit --no-fund \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete

# --- the app runtime ----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS app
# tini as PID 1 forwards signals to node and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Fixed ids: the app's user, and a group shared with nginx's user so nginx may connect to the
# sockets (mode 660). The socket and secrets folders are owned here so that named volumes
# mounted on them start with the right owner.
RUN groupadd --gid 10001 polls \
 && useradd --uid 10001 --gid polls --no-create-home --shell /usr/sbin/nologin polls \
 && install -d -o 10001 -g 10001 -m 2770 /run/polls \
 && install -d -o 10001 -g 10001 -m 0700 /run/polls-secrets
WORKDIR /app
COPY --from=prod-deps /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY db/migrations db/migrations
COPY package.json ./
ENV NODE_ENV=production
# V8 sizes the young generation from the machine's memory (up to 64 MiB per semi-space here),
# which leaves each replica at about 250 MB resident when idle. 16 MiB keeps a replica near
# 100 MB at a small cost in more frequent scavenges.
ENV NODE_OPTIONS=--max-semi-space-size=16
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/app/server.js", "--port", "3000"]
# The version it was built as (POLLS_VERSION in compose), for `docker inspect`. Last, so that
# building another version reuses every layer above.
ARG POLLS_VERSION=latest
LABEL org.opencontainers.image.version=${POLLS_VERSION}

# --- nginx --------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS nginx
# curl asks each replica's socket for /healthz, with a timeout (see nginx/entrypoint.sh);
# netcat-openbsd is nginx's own healthcheck, a connect that leaves no line in the access log.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light curl netcat-openbsd tini \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled /etc/nginx/conf.d/* /var/www/html
# Runs unprivileged: primary group 10001 is the app's, for the sockets; port 8080 needs no
# capability. The socket folder matches the app image's, whichever container mounts it first.
RUN groupadd --gid 10001 polls \
 && useradd --uid 10002 --gid polls --no-create-home --shell /usr/sbin/nologin nginx \
 && install -d -o 10001 -g 10001 -m 2770 /run/polls \
 && install -d /etc/nginx/extra
COPY nginx/nginx.conf /etc/nginx/nginx.conf
COPY nginx/https.conf /etc/nginx/https.conf
COPY nginx/configure.sh /usr/local/bin/nginx-configure
COPY nginx/entrypoint.sh /usr/local/bin/nginx-entrypoint
COPY --from=web /src/dist/web /usr/share/polls
USER 10002:10001
# HTTPS only when compose.tls.yml mounts a certificate.
EXPOSE 8080 8443
ENTRYPOINT ["/usr/bin/tini", "--", "nginx-entrypoint"]

# --- wrk, for the benchmark only (npm run bench, bench/compose.bench.yml) ------------------
# The load generator run inside nginx's network namespace: what a remote client gets, without
# Docker's userland port proxy, which carries every connection to the published loopback port.
FROM ${DEBIAN_IMAGE} AS bench-wrk
RUN apt-get update \
 && apt-get install -y --no-install-recommends wrk \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /
ENTRYPOINT ["bash", "-c", "TIMEFORMAT='cpu %R %U %S'; time wrk \"$@\"", "wrk"]
