# syntax=docker/dockerfile:1
# mesh-authz: multi-stage build on Node 24; the runtime image holds production dependencies only and runs as the
# unprivileged `node` user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY protos ./protos
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY protos ./protos
COPY examples ./examples
USER node
# 9191: gRPC (ext_authz + health). 9192: admin HTTP (/healthz, /readyz, /metrics); not 9901, Envoy's admin port.
EXPOSE 9191 9192
# Liveness only: readiness (/readyz, gRPC health) is for the orchestrator to route on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9192/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself: NOT_SERVING, drain in-flight checks, exit 0.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve", "--config", "examples/config.yaml", "--listen", "0.0.0.0:9191"]
