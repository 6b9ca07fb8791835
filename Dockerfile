# syntax=docker/dockerfile:1
# The service's image: `docker buildx build -t remote-builder .` (the deploy workflow builds it
# through remote-builder itself). Two stages: dependencies are installed where npm is, and only
# what runs is copied into the final image, which runs as an unprivileged user.

ARG NODE_IMAGE=node:20.18.1-bookworm-slim

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts

FROM ${NODE_IMAGE} AS service
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY service ./service
# node (uid 1000) comes with the base image; nothing in /app is writable by it.
USER node
EXPOSE 8080 8443
ENTRYPOINT ["node", "bin/remote-builder.js"]
CMD ["serve"]
