# Herald gateway image: one instance per container (the compose stack runs three behind nginx).
# Base images are build args so an air-gapped site can point at its own mirror (docs/operations.md).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/apps/gateway ./dist/apps/gateway
COPY --from=build /app/dist/libs ./dist/libs
# The official node images ship an unprivileged `node` user; the code stays root-owned and read-only to it.
USER node
EXPOSE 3000
# No curl in the slim image: Node's own fetch asks the readiness endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form, no npm or shell in between: SIGTERM reaches Node, which drains (closes sessions so clients reconnect elsewhere).
CMD ["node", "dist/apps/gateway/src/main.js"]
