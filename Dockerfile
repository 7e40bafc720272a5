# syntax=docker/dockerfile:1
# One image for the API and the worker (the worker overrides the command).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm 11 can reject a lock made against a registry mirror that lacks other platforms' optional
# packages (msgpackr-extract); a plain install still honours the lock then (as scripts/install-deps.sh).
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund --no-save
COPY tsconfig.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npx tsc -p tsconfig.json && rm -f dist/.tsbuildinfo \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# elfutils (eu-stack, eu-unstrip) and gdb symbolize; libc6-dbg gives glibc frames names and lines;
# zstd/lz4/xz-utils decompress cores; bubblewrap sandboxes the tools that parse untrusted cores.
RUN apt-get update \
 && apt-get install -y --no-install-recommends elfutils gdb libc6-dbg zstd lz4 xz-utils bubblewrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    TRIAGE_DATA_DIR=/var/lib/triage \
    TRIAGE_DEBUGINFO_CACHE=/var/cache/triage/debuginfo
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/triage /var/cache/triage/debuginfo && chown -R node:node /var/lib/triage /var/cache/triage \
 && ln -s /app/dist/apps/cli/src/main.js /usr/local/bin/triage && chmod +x /app/dist/apps/cli/src/main.js
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 8080
CMD ["node", "dist/apps/api/src/main.js"]
