#!/usr/bin/env bash
# Installs what a fresh machine lacks to run and test remote-builder: Redis and PostgreSQL (the
# service starts its own, in a data folder), runc and busybox for the tests against real BuildKit
# (where ../shared/tools/buildkit is), and the npm packages. `--bench-headline` adds what
# `npm run bench:headline` needs. Safe to run again: it only
# installs what is missing, and reinstalls npm packages only when package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The machine's Node.js (20 or newer) only runs npm: the service, the tests and the CLI run on the
# Node.js 24 LTS that the npm package `node` (a devDependency) puts first on npm scripts' PATH.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "remote-builder needs Node.js 20 or newer to install; this is $(node --version)." >&2
  exit 1
fi

# runc lives in /usr/sbin, which is not on every user's PATH.
have_command() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli makes the test Redis Cluster (test/harness/redis-cluster.ts); Debian's redis-server
# pulls it in, a Redis installed some other way may not have it.
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
have_postgres || missing+=(postgresql)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client) # kubectl kustomize renders deploy/ in test/deploy
# The dashboard's tests drive a real browser: Debian's chromium, through playwright-core.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Where upstream BuildKit is at hand (../shared/tools/buildkit, as in CI), the tests run it for real:
# buildkitd's OCI worker needs runc, builds get a network namespace of their own through the CNI
# plugins and iptables, and the tests' base image is Debian's static busybox.
if [ -d ../shared/tools/buildkit ]; then
  have_command runc || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  have_command iptables || missing+=(iptables)
  [ -x /usr/bin/busybox ] || [ -x /bin/busybox ] || missing+=(busybox-static)
fi
# Where the upstream kube-apiserver is (../shared/tools/kube, as in CI), the driver's scenarios run
# against it; it keeps its state in Debian's etcd.
if [ -d ../shared/tools/kube ]; then
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
fi
# `npm run bench:headline`: a compiler image made with debootstrap, and a registry for the status quo.
if [ "${1:-}" = "--bench-headline" ]; then
  have_command debootstrap || missing+=(debootstrap)
  have_command docker-registry || missing+=(docker-registry)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
    if [ "${sudo[0]:-}" = none ]; then
      echo "Missing: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
    echo "Installing ${missing[*]} with apt-get…"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing: ${missing[*]}. Install Redis (redis-server, redis-cli) and PostgreSQL (initdb, postgres) with your package manager." >&2
    exit 1
  fi
fi

stamp=node_modules/.remote-builder-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
if ! node_modules/.bin/node -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)'; then
  echo "node_modules/.bin/node is not Node.js 24: run \`rm -rf node_modules && npm ci\`." >&2
  exit 1
fi
