# syntax=docker/dockerfile:1
# One image, three apps: `node apps/<ingress|worker|autoscaler>/src/main.ts` (Node 24 runs TypeScript by
# stripping types, so there is no build step). The chart sets the entry point per Deployment.
# Build: `make images` (tag sluice:dev). NODE_VERSION comes from tools/versions.env.
# NODE_IMAGE is the base of both stages: the public Node image by default; `make cluster-up` builds without a
# registry from a local Debian + Node base (tools/cluster/images.sh). Any base with node, npm and a uid 1000 fits.
ARG NODE_VERSION=24
ARG NODE_IMAGE=node:${NODE_VERSION}-alpine

# Production dependencies only, from the lock file; workspace packages resolve through npm's symlinks.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY apps/ingress/package.json apps/ingress/
COPY apps/worker/package.json apps/worker/
COPY apps/autoscaler/package.json apps/autoscaler/
# No install scripts: nothing we run needs a native build, and scripts are code we did not read.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Root-owned and read-only to the app user: the pods run with a read-only root filesystem anyway.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY packages/core/package.json packages/core/
COPY packages/core/src packages/core/src
COPY apps/ingress/package.json apps/ingress/
COPY apps/ingress/src apps/ingress/src
COPY apps/worker/package.json apps/worker/
COPY apps/worker/src apps/worker/src
COPY apps/autoscaler/package.json apps/autoscaler/
COPY apps/autoscaler/src apps/autoscaler/src
# The base image's unprivileged `node` user (uid 1000), numeric so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 8081 8082
ENTRYPOINT ["node"]
CMD ["apps/ingress/src/main.ts"]
