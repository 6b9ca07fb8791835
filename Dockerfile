# The service's image: `docker buildx build -t remote-builder .` (the deploy workflow builds it
# through remote-builder itself). Three stages: production dependencies, the compiled service
# (esbuild, no TypeScript at run time), and the final image with only what runs, as an
# unprivileged user. No `# syntax=` line: the Dockerfile frontend built into BuildKit v0.11 and
# later reads everything here, and builders need not pull a frontend image.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The build needs only esbuild (dependencies are not bundled) and chart.js (bundled into the
# dashboard's script for the browser), at the versions package-lock.json pins.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN --mount=type=cache,target=/root/.npm \
    pinned() { node -p "require('./package-lock.json').packages['node_modules/$1'].version"; } \
 && npm install --prefix /opt/build-tools --no-save --ignore-scripts --no-audit --no-fund \
      "esbuild@$(pinned esbuild)" "chart.js@$(pinned chart.js)" \
 && ln -s /opt/build-tools/node_modules node_modules
COPY scripts/build-service.ts ./scripts/
COPY service ./service
RUN node scripts/build-service.ts

FROM ${NODE_IMAGE} AS service
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/build ./build
# node (uid 1000) comes with the base image; nothing in /app is writable by it.
USER node
EXPOSE 8080 8443
ENTRYPOINT ["node", "bin/remote-builder.js"]
# serve needs RB_DRIVER, which the deployment sets (deploy/base/configmap.yaml: kubernetes).
CMD ["serve"]
