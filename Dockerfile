# syntax=docker/dockerfile:1
# One image for the API and the worker (the worker overrides the command).
#
# The base is Node 24 (active LTS) pinned by digest, so a rebuild gets the same bytes. To move to a newer
# node:24-bookworm-slim, resolve the tag's current digest and replace NODE_IMAGE's (docs/deploy.md):
#   docker buildx imagetools inspect node:24-bookworm-slim --format '{{json .Manifest.Digest}}'
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

FROM ${NODE_IMAGE} AS build
# zstd-napi (the API's compressor) downloads its prebuilt binary when it can and builds libzstd from its
# own sources when it cannot: the compiler it then needs stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# The lock file is the truth: a lock out of step with package.json fails the build instead of being rewritten.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts/bundle-cli.mjs ./scripts/
RUN npx tsc -p tsconfig.json && npx tsc-alias -p tsconfig.json && npm run -s bundle:cli && rm -f dist/.tsbuildinfo \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# elfutils (eu-stack, eu-unstrip) and gdb symbolize; libc6-dbg gives glibc frames names and lines;
# zstd/lz4/xz-utils decompress cores; bubblewrap sandboxes the tools that parse untrusted cores;
# tini is PID 1: it forwards SIGTERM to node and reaps the tools' children (gdb and bwrap start their own).
RUN apt-get update \
 && apt-get install -y --no-install-recommends elfutils gdb libc6-dbg zstd lz4 xz-utils bubblewrap tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    TRIAGE_DATA_DIR=/var/lib/triage \
    TRIAGE_DEBUGINFO_CACHE=/var/cache/triage/debuginfo
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/triage /var/cache/triage/debuginfo && chown -R node:node /var/lib/triage /var/cache/triage \
 && ln -s /app/dist/cli/main.js /usr/local/bin/triage && chmod +x /app/dist/cli/main.js
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
# The API's node flags: apps/api/src/node-flags.ts says why.
CMD ["node", "--max-semi-space-size=4", "dist/apps/api/src/main.js"]
# The API's liveness (/healthz); the worker's compose service and k8s Deployment replace it with the worker's check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/apps/api/src/healthcheck.js"]
