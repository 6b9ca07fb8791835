import { createRequire } from "node:module"; const require = createRequire(import.meta.url);
var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// service/client/duration.ts
function parseDuration(what, value) {
  const match = /^(\d+)\s*(s|m|h)?$/.exec(value.trim());
  const seconds2 = match ? Number(match[1]) * UNIT_SECONDS[match[2] ?? "s"] : NaN;
  if (!Number.isSafeInteger(seconds2)) {
    throw new Error(`${what} is a duration like "90" or "90s" (seconds), "10m" or "1h"; got "${value}"`);
  }
  return seconds2;
}
var UNIT_SECONDS;
var init_duration = __esm({
  "service/client/duration.ts"() {
    "use strict";
    UNIT_SECONDS = { s: 1, m: 60, h: 3600 };
  }
});

// package.json
var package_default;
var init_package = __esm({
  "package.json"() {
    package_default = {
      name: "remote-builder",
      version: "0.1.0",
      description: "Warm, isolated, per-account BuildKit builders for CI, behind a TLS broker.",
      license: "MIT",
      private: true,
      type: "module",
      engines: {
        node: ">=24"
      },
      bin: {
        "remote-builder": "bin/remote-builder.js"
      },
      scripts: {
        predev: "bash scripts/setup.sh",
        dev: "exec node --import tsx service/cli/main.ts dev",
        start: "exec node bin/remote-builder.js serve",
        pretest: "bash scripts/setup.sh",
        test: "npm run typecheck && npm run test:jest && npm run test:soak",
        typecheck: "tsc --noEmit && tsc --noEmit -p service/dashboard/client",
        "test:jest": "node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js",
        lint: "eslint . && npm run lint:cycles && prettier --check .",
        "lint:cycles": "dpdm --no-warning --no-tree --no-progress --exit-code circular:1 'service/**/*.ts' 'action/**/*.ts'",
        format: "prettier --write .",
        "bench:admission": "node --import tsx bench/admission.ts",
        "bench:ledger": "node --import tsx bench/ledger.ts",
        "bench:broker": "node --import tsx bench/broker.ts",
        "bench:oidc": "node --import tsx bench/oidc.ts",
        "bench:dashboard": "node --import tsx bench/dashboard.ts",
        openapi: "node --import tsx scripts/openapi.ts",
        "docs:config": "node --import tsx scripts/config-docs.ts",
        build: "node --import tsx scripts/build-dist.ts",
        "bench:action": "node --import tsx bench/action.ts",
        "bench:fleet": "node --import tsx bench/fleet.ts",
        "bench:fleet-sensitivity": "node --import tsx bench/fleet-sensitivity.ts",
        "bench:headline": "bash scripts/setup.sh --bench-headline && node --import tsx bench/headline.ts",
        "test:soak": "node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js --runInBand --testMatch '<rootDir>/test/**/*.soak.ts'",
        prestart: "npm run build:service",
        "build:service": "node scripts/build-service.ts",
        prepare: "npm run build:service",
        "bench:kube": "node --import tsx bench/kube-api.ts",
        "bench:prewarm": "node --import tsx bench/prewarm.ts"
      },
      dependencies: {
        "@actions/core": "^3.0.1",
        "@actions/exec": "^3.0.0",
        "@grpc/grpc-js": "^1.14.7",
        "@grpc/proto-loader": "^0.8.1",
        "@kubernetes/client-node": "^2.0.1",
        "@octokit/rest": "^22.0.1",
        "@peculiar/x509": "^2.2.0",
        express: "^5.3.0",
        ioredis: "^5.11.1",
        jose: "^6.2.18",
        pg: "^8.23.1",
        pino: "^10.4.0",
        "prom-client": "^15.1.3",
        "reflect-metadata": "^0.2.2",
        zod: "^4.6.7"
      },
      devDependencies: {
        "@eslint/js": "^9.39.5",
        "@jest/globals": "^30.5.2",
        "@types/express": "^5.0.6",
        "@types/jest": "^30.0.0",
        "@types/node": "^24.19.4",
        "@types/pg": "^8.23.1",
        ajv: "^8.20.0",
        "ajv-formats": "^3.0.1",
        "chart.js": "^4.6.1",
        dpdm: "^4.3.0",
        esbuild: "^0.28.2",
        eslint: "^9.39.5",
        "fast-check": "^4.11.0",
        jest: "^30.5.2",
        "kubernetes-models": "^5.1.0",
        node: "24.21.0",
        "openapi-typescript": "^7.13.0",
        "playwright-core": "^1.65.2",
        prettier: "^3.10.1",
        "ts-jest": "^29.4.15",
        tsx: "^4.23.15",
        typescript: "~5.9",
        "typescript-eslint": "^8.74.0"
      },
      files: [
        "bin/",
        "build/"
      ]
    };
  }
});

// service/cli/version.ts
var VERSION;
var init_version = __esm({
  "service/cli/version.ts"() {
    "use strict";
    init_package();
    VERSION = package_default.version;
  }
});

// service/cli/command.ts
import { parseArgs } from "node:util";
function command(spec, run2) {
  return async (args) => {
    if (asksForHelp(args)) {
      process.stdout.write(`${spec.help}
`);
      return EXIT.ok;
    }
    return run2(parseCommandLine(spec, args));
  };
}
function asksForHelp(args) {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}
function parseCommandLine(spec, args) {
  try {
    return parseArgs({
      args,
      options: { ...spec.options, ...EVERY_COMMAND },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true
    });
  } catch (err) {
    throw usageErrorOf(spec.name, err);
  }
}
function usageErrorOf(name, err) {
  const seeHelp = `see \`remote-builder ${name} --help\``;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const option = /'([^']+)'/.exec(err.message)?.[1] ?? "";
      return new UsageError(`\`remote-builder ${name}\` has no option ${option}; ${seeHelp}`);
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const argument = /'([^']*)'/.exec(err.message)?.[1] ?? "";
      return new UsageError(`\`remote-builder ${name}\` takes no argument "${argument}"; ${seeHelp}`);
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(`${err.message.replace(/\.$/, "")}; ${seeHelp}`);
    default:
      return err;
  }
}
function durationFlag(flag, value) {
  try {
    return parseDuration(flag, value);
  } catch (err) {
    throw new UsageError(err.message);
  }
}
function printResult(json, result, human) {
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}
` : `${human(result)}
`);
}
function exitWith(run2) {
  void run2.then(
    (code) => code,
    (err) => {
      process.stderr.write(`remote-builder: ${err.message}
`);
      return exitCodeOf(err);
    }
  ).then((code) => {
    process.exitCode = code;
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  });
}
function exitCodeOf(err) {
  if (err instanceof UsageError) return EXIT.usage;
  if (err.name === "ApiError" && err.kind === "wait-timeout") return EXIT.notReady;
  return EXIT.failed;
}
async function dispatch(argv, commands, help) {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "version") {
    process.stdout.write(`${VERSION}
`);
    return EXIT.ok;
  }
  const [topic, ...subtopic] = rest;
  const helpOf = name === "help" && topic !== void 0 ? commands[topic] : void 0;
  if (helpOf) return helpOf([...subtopic, "--help"]);
  if (name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${help}
`);
    return EXIT.ok;
  }
  if (name === void 0) {
    process.stderr.write(`${help}
`);
    return EXIT.usage;
  }
  const run2 = commands[name];
  if (!run2) {
    throw new UsageError(
      name.startsWith("-") ? `there is no option ${name} before the command; see \`remote-builder --help\`` : `there is no command "${name}"; see \`remote-builder --help\``
    );
  }
  return run2(rest);
}
function commandGroup(name, help, members) {
  return async (args) => {
    const [word, ...rest] = args;
    const member = word === void 0 ? void 0 : members[word];
    if (member) return member(rest);
    if (asksForHelp(args)) {
      process.stdout.write(`${help}
`);
      return EXIT.ok;
    }
    const seeHelp = `see \`remote-builder ${name} --help\``;
    throw new UsageError(
      word === void 0 || word.startsWith("-") ? `say what to do: remote-builder ${name} ${Object.keys(members).join("|")} \u2026; ${seeHelp}` : `there is no command "${name} ${word}"; ${seeHelp}`
    );
  };
}
var EXIT, EXIT_CODES_HELP, UsageError, EVERY_COMMAND;
var init_command = __esm({
  "service/cli/command.ts"() {
    "use strict";
    init_duration();
    init_version();
    EXIT = { ok: 0, failed: 1, usage: 2, notReady: 3 };
    EXIT_CODES_HELP = `Exit codes:
  0  done
  1  failed: the service refused or could not be reached, or the build ended
  2  usage error: an unknown command or option, or a value the option does not take
  3  setup only: the builder was not ready within --wait-timeout`;
    UsageError = class extends Error {
      name = "UsageError";
    };
    EVERY_COMMAND = {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean", default: false }
    };
  }
});

// service/client/http.ts
function httpRequest(url, o) {
  const target = new URL(url);
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve2, reject) => {
    const request = transport.request(
      target,
      {
        method: o.method,
        headers: o.body === void 0 ? o.headers : { ...o.headers, "content-length": Buffer.byteLength(o.body) },
        agent: agents[target.protocol]
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          clearTimeout(timer);
          resolve2({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            header: (name) => {
              const value = response.headers[name.toLowerCase()];
              return Array.isArray(value) ? value[0] ?? null : value ?? null;
            },
            text: Buffer.concat(chunks).toString("utf8")
          });
        });
      }
    );
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${o.timeoutMs} ms`);
      err.name = "TimeoutError";
      request.destroy(err);
    }, o.timeoutMs);
    timer.unref();
    request.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end(o.body);
  });
}
var http, https, agents;
var init_http = __esm({
  "service/client/http.ts"() {
    "use strict";
    http = process.getBuiltinModule("node:http");
    https = process.getBuiltinModule("node:https");
    agents = {
      "http:": new http.Agent({ keepAlive: true }),
      "https:": new https.Agent({ keepAlive: true })
    };
  }
});

// service/client/api-client.ts
function parseJson(text) {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
var OPERATIONS, ApiError, staticToken, IDEMPOTENT, RETRY_DELAYS_MS, MAX_RETRY_AFTER_MS, ApiClient, NEVER_SENT;
var init_api_client = __esm({
  "service/client/api-client.ts"() {
    "use strict";
    init_http();
    OPERATIONS = {
      exchangeOidcToken: ["POST", "/api/v1/auth/oidc"],
      refreshCredential: ["POST", "/api/v1/auth/refresh"],
      createBuild: ["POST", "/api/v1/builds"],
      getBuild: ["GET", "/api/v1/builds/{id}"],
      heartbeatBuild: ["POST", "/api/v1/builds/{id}/heartbeat"],
      completeBuild: ["POST", "/api/v1/builds/{id}/complete"],
      listCacheVolumes: ["GET", "/api/v1/accounts/{account}/cache-volumes"],
      resetCacheVolume: ["DELETE", "/api/v1/accounts/{account}/cache-volumes/{name}"],
      getUsage: ["GET", "/api/v1/accounts/{account}/usage"],
      createDashboardLink: ["POST", "/api/v1/dashboard/links"]
    };
    ApiError = class extends Error {
      constructor(message, status, kind, problem = null, retryAfterSeconds = null) {
        super(message);
        this.status = status;
        this.kind = kind;
        this.problem = problem;
        this.retryAfterSeconds = retryAfterSeconds;
        this.name = "ApiError";
      }
      status;
      kind;
      problem;
      retryAfterSeconds;
    };
    staticToken = (token) => ({ token: async () => token });
    IDEMPOTENT = /* @__PURE__ */ new Set([
      "getBuild",
      "heartbeatBuild",
      "completeBuild",
      "listCacheVolumes",
      "getUsage"
    ]);
    RETRY_DELAYS_MS = [250, 1e3, 3e3];
    MAX_RETRY_AFTER_MS = 1e4;
    ApiClient = class {
      constructor(options) {
        this.options = options;
        this.serverUrl = options.serverUrl.replace(/\/+$/, "");
      }
      options;
      serverUrl;
      exchangeOidcToken(token, account) {
        return this.call("exchangeOidcToken", {}, { token, ...account ? { account } : {} }, { auth: false });
      }
      /**
       * A new credential with the same scope for a live `credential` (rbc_…), or for this client's own
       * when none is given. Sent once, never retried with another token: a 401 means it is too late.
       */
      refresh(credential) {
        return this.call("refreshCredential", {}, void 0, credential ? { token: credential } : {});
      }
      createBuild(body) {
        return this.call("createBuild", {}, body);
      }
      /** With `waitSeconds`, a long poll: answers once the build is ready or ended, or the wait runs out. */
      getBuild(id, waitSeconds = 0) {
        const query = waitSeconds > 0 ? { wait: String(waitSeconds) } : void 0;
        return this.call("getBuild", { id }, void 0, { query, extraMs: waitSeconds * 1e3 });
      }
      heartbeat(id) {
        return this.call("heartbeatBuild", { id });
      }
      complete(id, result) {
        return this.call("completeBuild", { id }, { result });
      }
      async listCacheVolumes(account) {
        return (await this.call("listCacheVolumes", { account })).volumes;
      }
      resetCacheVolume(account, name) {
        return this.call("resetCacheVolume", { account, name });
      }
      usage(account, range = {}) {
        const query = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== void 0));
        return this.call("getUsage", { account }, void 0, { query });
      }
      /** A one-time sign-in link to the dashboard: the service's URL with the path it returns. */
      async dashboardLink() {
        const link = await this.call("createDashboardLink", {});
        return { ...link, url: this.serverUrl + link.path };
      }
      async call(op, params, body, opts = {}) {
        const [method, template] = OPERATIONS[op];
        const path4 = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name] ?? ""));
        const query = opts.query && Object.keys(opts.query).length > 0 ? `?${new URLSearchParams(opts.query)}` : "";
        const url = this.serverUrl + path4 + query;
        const auth = opts.auth === false || opts.token ? null : this.options.auth ?? null;
        let token = opts.token ?? (auth ? await auth.token() : null);
        let refreshed = false;
        for (let attempt = 0; ; ) {
          try {
            return await this.send(method, url, body, token, opts.extraMs ?? 0);
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            if (err.status === 401 && auth?.refresh && !refreshed) {
              refreshed = true;
              token = await auth.refresh();
              continue;
            }
            const retriable = err.kind === "unreachable" || IDEMPOTENT.has(op) && (err.kind === "timeout" || err.kind === "connection-lost" || [502, 503, 504].includes(err.status));
            const delay = RETRY_DELAYS_MS[attempt++];
            if (!retriable || delay === void 0) throw err;
            const asked = Math.min((err.retryAfterSeconds ?? 0) * 1e3, MAX_RETRY_AFTER_MS);
            await new Promise((resolve2) => setTimeout(resolve2, Math.max(delay, asked)));
          }
        }
      }
      transportError(err, request) {
        if (err.name === "TimeoutError") {
          return new ApiError(`${this.serverUrl} did not answer ${request} in time`, 0, "timeout");
        }
        const { code: own, cause } = err;
        const code = own ?? cause?.code ?? "";
        if (NEVER_SENT.has(code)) {
          return new ApiError(
            `cannot reach the remote-builder service at ${this.serverUrl} (${code}); check the server URL (server-url, --server or RB_SERVER_URL) and that the service is up`,
            0,
            "unreachable"
          );
        }
        return new ApiError(
          `the connection to ${this.serverUrl} broke during ${request} (${code || cause?.message || err.message})`,
          0,
          "connection-lost"
        );
      }
      async send(method, url, body, token, extraMs) {
        const headers = {
          accept: "application/json, application/problem+json",
          "user-agent": this.options.userAgent ?? "remote-builder-client"
        };
        if (token) headers.authorization = `Bearer ${token}`;
        if (body !== void 0) headers["content-type"] = "application/json";
        let response;
        try {
          response = await httpRequest(url, {
            method,
            headers,
            ...body !== void 0 ? { body: JSON.stringify(body) } : {},
            timeoutMs: (this.options.timeoutMs ?? 15e3) + extraMs
          });
        } catch (err) {
          throw this.transportError(err, `${method} ${new URL(url).pathname}`);
        }
        const text = response.text;
        const parsed = parseJson(text);
        if (response.status >= 200 && response.status < 300) return parsed;
        const problem = parsed && typeof parsed === "object" ? parsed : null;
        const type = typeof problem?.type === "string" ? problem.type : "";
        const kind = type.slice(type.lastIndexOf("/") + 1) || `http-${response.status}`;
        const title = typeof problem?.title === "string" ? problem.title : response.statusText;
        const detail = typeof problem?.detail === "string" ? problem.detail : text.slice(0, 300);
        const retryAfter = Number(response.header("retry-after"));
        throw new ApiError(
          `${response.status} ${title}: ${detail}`,
          response.status,
          kind,
          problem,
          Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null
        );
      }
    };
    NEVER_SENT = /* @__PURE__ */ new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
  }
});

// service/client/keeper.ts
import { spawn } from "node:child_process";
import { constants, setPriority } from "node:os";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
async function keepAlive(client, buildId, intervalSeconds, signal, log = () => {
}) {
  while (!signal.aborted) {
    const final = await heartbeatOnce(client, buildId, log);
    if (final) return final;
    await sleep(intervalSeconds * 1e3, void 0, { signal }).catch(() => {
    });
  }
  return "stopped";
}
async function heartbeatOnce(client, buildId, log = () => {
}) {
  try {
    await client.heartbeat(buildId);
    return null;
  } catch (err) {
    if (err instanceof ApiError && FINAL.has(err.kind)) {
      log(`heartbeats stopped: ${err.message}`);
      return err.kind;
    }
    log(`heartbeat failed, retrying: ${err.message}`);
    return null;
  }
}
function spawnKeeper(args, env, logPath) {
  const child2 = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...env, RB_KEEPER_LOG: logPath }
  });
  child2.unref();
  if (child2.pid === void 0) throw new Error("could not start the heartbeat process");
  try {
    setPriority(child2.pid, constants.priority.PRIORITY_LOW);
  } catch {
  }
  return child2.pid;
}
async function keeperProcess(client, env = process.env) {
  process.on("SIGTERM", () => process.exit(0));
  const interval = Number(env.RB_KEEPER_INTERVAL) || 10;
  await keepAlive(client, env.RB_KEEPER_BUILD ?? "", interval, new AbortController().signal, keeperLog(env));
}
function keeperLog(env = process.env) {
  return (line) => {
    if (env.RB_KEEPER_LOG) appendFileSync(env.RB_KEEPER_LOG, `${(/* @__PURE__ */ new Date()).toISOString()} ${line}
`);
  };
}
function stopKeeper(pid) {
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, "utf8").includes("keep-alive")) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
  }
}
var FINAL;
var init_keeper = __esm({
  "service/client/keeper.ts"() {
    "use strict";
    init_api_client();
    FINAL = /* @__PURE__ */ new Set(["illegal-transition", "claim-lost", "not-found"]);
  }
});

// service/client/renewal.ts
function heldCredential(answer, now) {
  const lifetimeMs = answer.expiresIn * 1e3;
  return { credential: answer.credential, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs / 2 };
}
var isRenewable, RenewingCredential;
var init_renewal = __esm({
  "service/client/renewal.ts"() {
    "use strict";
    init_api_client();
    isRenewable = (token) => token.startsWith("rbc_");
    RenewingCredential = class {
      constructor(held, options) {
        this.held = held;
        this.options = options;
      }
      held;
      options;
      renewable = true;
      inFlight = null;
      current() {
        return this.held;
      }
      async token() {
        const held = this.held;
        if (!held) return this.once(() => this.replace("exchanged", this.options.exchange()));
        if (!this.due(held)) return held.credential;
        try {
          return await this.once(() => this.renew(held));
        } catch (err) {
          this.log(`credential renewal failed, keeping the current one: ${err.message}`);
          return held.credential;
        }
      }
      /** After a 401: renewed once if it can be, else exchanged again. */
      async refresh() {
        return this.once(async () => {
          const held = this.held;
          if (held && this.renewable && isRenewable(held.credential)) {
            try {
              return await this.renew(held);
            } catch (err) {
              this.log(
                `credential renewal failed, exchanging the identity token again: ${err.message}`
              );
            }
          }
          return this.replace("exchanged", this.options.exchange());
        });
      }
      due(held) {
        return this.renewable && isRenewable(held.credential) && this.now() >= held.renewAt;
      }
      async renew(held) {
        try {
          return await this.replace("renewed", this.options.refresh(held.credential));
        } catch (err) {
          if (err instanceof ApiError && err.kind === "refresh-not-allowed") this.renewable = false;
          throw err;
        }
      }
      async replace(how, answer) {
        const got = heldCredential(await answer, this.now());
        this.held = got;
        this.renewable = true;
        this.log(`credential ${how}; it expires in ${Math.round((got.expiresAt - this.now()) / 1e3)} s`);
        this.options.onRenewed?.(got);
        return got.credential;
      }
      /** One renewal at a time: callers that come while one is under way share its outcome. */
      once(work) {
        this.inFlight ??= work().finally(() => this.inFlight = null);
        return this.inFlight;
      }
      now() {
        return (this.options.now ?? Date.now)();
      }
      log(line) {
        this.options.log?.(line);
      }
    };
  }
});

// service/client/wait.ts
function progressLine(build, elapsedSeconds) {
  const after = `(${elapsedSeconds.toFixed(0)} s)`;
  if (build.state === "queued" && build.queue) {
    const ahead = Math.max(0, build.queue.position - 1);
    return build.queue.waitingFor === "concurrency" ? `Queued: the account runs as many builds as its plan allows; ${ahead} build(s) ahead of this one ${after}` : `Queued: another build holds the cache volume "${build.cache.volume}"; ${ahead} build(s) ahead ${after}`;
  }
  if (build.state === "queued") return `Queued ${after}`;
  if (build.state === "pending") {
    const tier = build.tier ?? "new";
    return `Booting ${tier === "idle" ? "an" : "a"} ${tier} builder (shape ${build.shape}) ${after}`;
  }
  return `Build ${build.state} ${after}`;
}
async function waitUntilReady(client, created, timeoutSeconds, log, startedAt = Date.now()) {
  const deadline = startedAt + timeoutSeconds * 1e3;
  let build = created;
  let said = "";
  let saidAt = 0;
  let lastQueue = created.queue;
  const timedOut = () => new ApiError(
    `the builder was not ready within ${timeoutSeconds} s (the build is ${build.state === "failed" ? "queued" : build.state}${lastQueue ? `, position ${lastQueue.position} in the queue` : ""}); raise the wait timeout` + (lastQueue?.waitingFor === "cache" ? ", or ask for a cold cache (cache: cold, --cache cold) rather than wait for the volume" : ""),
    0,
    "wait-timeout"
  );
  for (; ; ) {
    if (build.state === "ready" || build.state === "building") return build;
    if (build.state === "failed" && build.endReason === "wait-timeout") throw timedOut();
    if (TERMINAL.has(build.state)) {
      throw new ApiError(
        `the build ${build.id} ${build.state} before it was ready: ${build.endReason ?? "no reason given"}`,
        0,
        "build-ended"
      );
    }
    if (build.queue) lastQueue = build.queue;
    const now = Date.now();
    const where = `${build.state}:${build.queue?.waitingFor ?? ""}:${build.queue?.position ?? ""}`;
    if (where !== said || now - saidAt >= 3e4) {
      log(progressLine(build, (now - startedAt) / 1e3));
      said = where;
      saidAt = now;
    }
    const left = Math.ceil((deadline - now) / 1e3);
    if (left <= 0) throw timedOut();
    build = await client.getBuild(build.id, Math.min(left, POLL_SECONDS));
  }
}
var POLL_SECONDS, TERMINAL;
var init_wait = __esm({
  "service/client/wait.ts"() {
    "use strict";
    init_api_client();
    POLL_SECONDS = 10;
    TERMINAL = /* @__PURE__ */ new Set(["completed", "failed", "expired", "reaped"]);
  }
});

// service/client/units.ts
function seconds(s) {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}
var init_units = __esm({
  "service/client/units.ts"() {
    "use strict";
  }
});

// service/client/insights-line.ts
function insightsLine(insights) {
  if (insights.status === "unavailable") return `not available (${insights.reason ?? "unknown"})`;
  if (insights.solves === 0) return "no builds ran";
  const parts = [`${count(insights.steps, "step")}, ${insights.cachedSteps} cached${ratio(insights)}`];
  const slowest = insights.slowest.filter((s) => s.seconds >= 0.1).slice(0, SLOWEST_SHOWN).map((s) => `${stepName(s.name)} ${seconds(s.seconds)}`);
  if (slowest.length > 0) parts.push(`slowest: ${slowest.join(", ")}`);
  if (insights.solves > 1) parts.push(`${insights.solves} builds`);
  if (insights.errors.length > 0)
    parts.push(`${count(insights.errors.length, "error")}: ${insights.errors[0]}`);
  return parts.join("; ");
}
function stepName(name) {
  return name.replace(/^\[[^\]]*\d+\/\d+\]\s+/, "");
}
function ratio({ cacheHitRatio }) {
  if (cacheHitRatio === null) return "";
  return ` (${Math.floor(cacheHitRatio * 100)}%)`;
}
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
var SLOWEST_SHOWN;
var init_insights_line = __esm({
  "service/client/insights-line.ts"() {
    "use strict";
    init_units();
    SLOWEST_SHOWN = 3;
  }
});

// service/client/tier.ts
function tierLine(build) {
  if (build.tier === null) return null;
  return build.prewarmed ? "idle, prewarmed (started when the CI queued the job)" : build.tier;
}
var init_tier = __esm({
  "service/client/tier.ts"() {
    "use strict";
  }
});

// service/cli/format.ts
function table(header, rows) {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd();
  return [header, ...rows].map(line).join("\n");
}
function fields(pairs) {
  const shown = pairs.filter((pair) => pair[1] != null && pair[1] !== "");
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n");
}
function duration(seconds2) {
  if (seconds2 < 59.95) return `${seconds2.toFixed(1)} s`;
  const minutes = Math.floor(seconds2 / 60);
  if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds2 % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}
var secondsBetween, minute;
var init_format = __esm({
  "service/cli/format.ts"() {
    "use strict";
    secondsBetween = (from, to, now = Date.now()) => ((to === null ? now : Date.parse(to)) - Date.parse(from)) / 1e3;
    minute = (iso) => iso === null ? "-" : `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
  }
});

// service/cli/build-summary.ts
function buildSummary(build, now = Date.now()) {
  return fields([
    ["build", build.id],
    ["state", build.state],
    ["result", build.result],
    ["ended", build.endReason],
    ["shape", build.shape],
    ["tier", tierLine(build) ?? "not placed yet"],
    ["ready in", timeToReady(build)],
    ["cache", cacheLine(build)],
    [
      "duration",
      `${duration(secondsBetween(build.createdAt, build.endedAt, now))}${build.endedAt ? "" : " so far"}`
    ],
    ["steps", build.insights && insightsLine(build.insights)]
  ]);
}
function timeToReady(build) {
  if (!build.readyAt) return null;
  const total = duration(secondsBetween(build.createdAt, build.readyAt));
  const queued = build.admittedAt ? secondsBetween(build.createdAt, build.admittedAt) : 0;
  return queued >= 1 ? `${total} (${duration(queued)} of it queued)` : total;
}
function cacheLine({ cache }) {
  const mode = cache.mode ?? `${cache.requested} asked, not attached yet`;
  return `${cache.volume}, ${mode}${cache.reason ? ` (${cache.reason})` : ""}`;
}
var init_build_summary = __esm({
  "service/cli/build-summary.ts"() {
    "use strict";
    init_insights_line();
    init_tier();
    init_format();
  }
});

// service/cli/builder-flags.ts
var COMMON, COMMON_HELP, SETUP, FINISH, STATUS, KEEP_ALIVE;
var init_builder_flags = __esm({
  "service/cli/builder-flags.ts"() {
    "use strict";
    init_command();
    COMMON = {
      server: { type: "string" },
      token: { type: "string" },
      audience: { type: "string", default: "remote-builder" },
      account: { type: "string" },
      name: { type: "string", default: "remote-builder" },
      "state-dir": { type: "string" }
    };
    COMMON_HELP = `  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             an agent token (RB_TOKEN); without one, the CI's OIDC identity token is
                        exchanged for a credential
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --account HANDLE      the account to act for, when several accounts trust this job
  --name N              the docker buildx builder's name (default remote-builder); one job may
                        set up several builders under different names
  --state-dir DIR       where the job's state and key files are kept between steps
                        (RB_STATE_DIR; default <temp>/remote-builder-<uid>)
  --json                print the result as JSON, for scripts
  -h, --help            print this help`;
    SETUP = {
      name: "setup",
      help: `Usage: remote-builder setup [options]

Gets a remote builder for this CI job and makes it a docker buildx builder (the default one,
unless --no-use). Progress goes to stderr; stdout gets one line of JSON whether or not --json
is given: {"name", "buildId", "endpoint", "tier", "readySeconds"}.

Options:
  --shape S             the builder's size, as the account's plan allows (default: the plan's)
  --cache wait|cold     wait for the account's cache volume while another build holds it, or
                        start with an empty cache at once (default: wait)
  --wait-timeout D      how long to wait for a ready builder: 90, 90s, 10m or 1h (default: 10m)
  --label K=V           a label on the build, shown in usage and the API; repeatable
  --no-use              do not make it docker's default builder (name it with --builder)
${COMMON_HELP}

Examples:
  remote-builder setup --shape medium --wait-timeout 15m
  remote-builder setup --name rb-$CI_JOB_ID --label pipeline=$CI_PIPELINE_ID --no-use

${EXIT_CODES_HELP}`,
      options: {
        ...COMMON,
        shape: { type: "string" },
        cache: { type: "string", default: "wait" },
        "wait-timeout": { type: "string", default: "10m" },
        "no-use": { type: "boolean", default: false },
        label: { type: "string", multiple: true }
      }
    };
    FINISH = {
      name: "finish",
      help: `Usage: remote-builder finish [options]

Hands the builder back with the job's result and removes the docker buildx builder and the key
files. Prints a summary of the build (with --json: the build as the API shows it).

Options:
  --result R            success, failure or cancelled, or the CI's word for one (failed,
                        canceled, ABORTED, \u2026) (default: success)
  --keep-builder        leave the docker buildx builder and the key files in place
${COMMON_HELP}

Examples:
  remote-builder finish --result "$CI_JOB_STATUS"
  remote-builder finish --name rb-$CI_JOB_ID --result failure --json

${EXIT_CODES_HELP}`,
      options: {
        ...COMMON,
        result: { type: "string", default: "success" },
        "keep-builder": { type: "boolean" }
      }
    };
    STATUS = {
      name: "status",
      help: `Usage: remote-builder status [options]

Where this job's build stands: its state, tier, time to ready, cache and duration (with --json:
the build as the API shows it).

Options:
${COMMON_HELP}

Example:
  remote-builder status --json | jq -r .state

${EXIT_CODES_HELP}`,
      options: COMMON
    };
    KEEP_ALIVE = {
      name: "keep-alive",
      help: `Usage: remote-builder keep-alive

The heartbeat process setup starts in the background and finish stops; not for running by hand.
It reads what to keep alive from RB_KEEPER_* environment variables.`,
      options: {}
    };
  }
});

// service/cli/http.ts
import { existsSync as existsSync2, readFileSync as readFileSync2 } from "node:fs";
function serverUrl(given) {
  return (given ?? process.env.RB_SERVER_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
}
function adminToken(given) {
  const token = given ?? process.env.RB_ADMIN_TOKEN;
  if (token) return token;
  if (existsSync2(".data/admin-token")) return readFileSync2(".data/admin-token", "utf8").trim();
  throw new Error(
    "no admin token: pass --admin-token, set RB_ADMIN_TOKEN, or run from the folder where `remote-builder dev` runs"
  );
}
var init_http2 = __esm({
  "service/cli/http.ts"() {
    "use strict";
  }
});

// service/client/github-id-token.ts
async function githubIdToken(audience, env = process.env) {
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return null;
  const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
  url.searchParams.set("audience", audience);
  const response = await httpRequest(url.href, {
    method: "GET",
    headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
    timeoutMs: 15e3
  });
  if (response.status !== 200) {
    throw new Error(`GitHub refused an OIDC token: ${response.status} ${response.text}`);
  }
  return JSON.parse(response.text).value;
}
var init_github_id_token = __esm({
  "service/client/github-id-token.ts"() {
    "use strict";
    init_http();
  }
});

// service/cli/id-token.ts
import { execFile } from "node:child_process";
import { promisify } from "node:util";
async function ciIdentityToken(audience, env = process.env) {
  if (env.RB_ID_TOKEN) return env.RB_ID_TOKEN;
  const github = await githubIdToken(audience, env);
  if (github) return github;
  const circle = env.CIRCLE_OIDC_TOKEN_V2 ?? env.CIRCLE_OIDC_TOKEN;
  if (circle) return circle;
  if (env.BUILDKITE === "true") {
    const { stdout } = await run("buildkite-agent", [
      "oidc",
      "request-token",
      "--audience",
      audience,
      "--claim",
      "organization_id,pipeline_id"
    ]);
    return stdout.trim();
  }
  return null;
}
function cliCredential(server, options) {
  const agent = agentToken(options.token);
  if (agent) return staticToken(agent);
  const api = new ApiClient({ serverUrl: server });
  return new RenewingCredential(options.initial ?? null, {
    refresh: (credential) => api.refresh(credential),
    exchange: async () => {
      const idToken = await ciIdentityToken(options.audience);
      if (!idToken) throw new Error(CREDENTIAL_HELP);
      return api.exchangeOidcToken(idToken, options.account);
    },
    ...options.onRenewed ? { onRenewed: options.onRenewed } : {},
    ...options.log ? { log: options.log } : {},
    ...options.now ? { now: options.now } : {}
  });
}
var run, CREDENTIAL_HELP, agentToken;
var init_id_token = __esm({
  "service/cli/id-token.ts"() {
    "use strict";
    init_api_client();
    init_github_id_token();
    init_renewal();
    run = promisify(execFile);
    CREDENTIAL_HELP = `remote-builder needs a credential. Either:
  - an agent token: RB_TOKEN=rba_\u2026 (remote-builder admin tokens create <account>), or
  - the CI's OIDC identity token, exchanged under a trust relationship of the account:
      GitHub Actions  permissions: id-token: write (found automatically)
      GitLab CI       id_tokens: { RB_ID_TOKEN: { aud: remote-builder } }
      CircleCI        found automatically (CIRCLE_OIDC_TOKEN_V2)
      Buildkite       found automatically (buildkite-agent oidc request-token)
      any other       RB_ID_TOKEN=<the job's identity token>`;
    agentToken = (given) => given ?? process.env.RB_TOKEN;
  }
});

// node_modules/@actions/io/lib/io-util.js
import * as fs from "fs";
import * as path from "path";
function exists(fsPath) {
  return __awaiter(this, void 0, void 0, function* () {
    try {
      yield stat(fsPath);
    } catch (err) {
      if (err.code === "ENOENT") {
        return false;
      }
      throw err;
    }
    return true;
  });
}
function isRooted(p) {
  p = normalizeSeparators(p);
  if (!p) {
    throw new Error('isRooted() parameter "p" cannot be empty');
  }
  if (IS_WINDOWS) {
    return p.startsWith("\\") || /^[A-Z]:/i.test(p);
  }
  return p.startsWith("/");
}
function tryGetExecutablePath(filePath, extensions) {
  return __awaiter(this, void 0, void 0, function* () {
    let stats = void 0;
    try {
      stats = yield stat(filePath);
    } catch (err) {
      if (err.code !== "ENOENT") {
        console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
      }
    }
    if (stats && stats.isFile()) {
      if (IS_WINDOWS) {
        const upperExt = path.extname(filePath).toUpperCase();
        if (extensions.some((validExt) => validExt.toUpperCase() === upperExt)) {
          return filePath;
        }
      } else {
        if (isUnixExecutable(stats)) {
          return filePath;
        }
      }
    }
    const originalFilePath = filePath;
    for (const extension of extensions) {
      filePath = originalFilePath + extension;
      stats = void 0;
      try {
        stats = yield stat(filePath);
      } catch (err) {
        if (err.code !== "ENOENT") {
          console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
        }
      }
      if (stats && stats.isFile()) {
        if (IS_WINDOWS) {
          try {
            const directory = path.dirname(filePath);
            const upperName = path.basename(filePath).toUpperCase();
            for (const actualName of yield readdir(directory)) {
              if (upperName === actualName.toUpperCase()) {
                filePath = path.join(directory, actualName);
                break;
              }
            }
          } catch (err) {
            console.log(`Unexpected error attempting to determine the actual case of the file '${filePath}': ${err}`);
          }
          return filePath;
        } else {
          if (isUnixExecutable(stats)) {
            return filePath;
          }
        }
      }
    }
    return "";
  });
}
function normalizeSeparators(p) {
  p = p || "";
  if (IS_WINDOWS) {
    p = p.replace(/\//g, "\\");
    return p.replace(/\\\\+/g, "\\");
  }
  return p.replace(/\/\/+/g, "/");
}
function isUnixExecutable(stats) {
  return (stats.mode & 1) > 0 || (stats.mode & 8) > 0 && process.getgid !== void 0 && stats.gid === process.getgid() || (stats.mode & 64) > 0 && process.getuid !== void 0 && stats.uid === process.getuid();
}
var __awaiter, chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink, IS_WINDOWS, READONLY;
var init_io_util = __esm({
  "node_modules/@actions/io/lib/io-util.js"() {
    __awaiter = function(thisArg, _arguments, P, generator) {
      function adopt(value) {
        return value instanceof P ? value : new P(function(resolve2) {
          resolve2(value);
        });
      }
      return new (P || (P = Promise))(function(resolve2, reject) {
        function fulfilled(value) {
          try {
            step(generator.next(value));
          } catch (e) {
            reject(e);
          }
        }
        function rejected(value) {
          try {
            step(generator["throw"](value));
          } catch (e) {
            reject(e);
          }
        }
        function step(result) {
          result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
        }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
      });
    };
    ({ chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink } = fs.promises);
    IS_WINDOWS = process.platform === "win32";
    READONLY = fs.constants.O_RDONLY;
  }
});

// node_modules/@actions/io/lib/io.js
import * as path2 from "path";
function which(tool, check) {
  return __awaiter2(this, void 0, void 0, function* () {
    if (!tool) {
      throw new Error("parameter 'tool' is required");
    }
    if (check) {
      const result = yield which(tool, false);
      if (!result) {
        if (IS_WINDOWS) {
          throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also verify the file has a valid extension for an executable file.`);
        } else {
          throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also check the file mode to verify the file is executable.`);
        }
      }
      return result;
    }
    const matches = yield findInPath(tool);
    if (matches && matches.length > 0) {
      return matches[0];
    }
    return "";
  });
}
function findInPath(tool) {
  return __awaiter2(this, void 0, void 0, function* () {
    if (!tool) {
      throw new Error("parameter 'tool' is required");
    }
    const extensions = [];
    if (IS_WINDOWS && process.env["PATHEXT"]) {
      for (const extension of process.env["PATHEXT"].split(path2.delimiter)) {
        if (extension) {
          extensions.push(extension);
        }
      }
    }
    if (isRooted(tool)) {
      const filePath = yield tryGetExecutablePath(tool, extensions);
      if (filePath) {
        return [filePath];
      }
      return [];
    }
    if (tool.includes(path2.sep)) {
      return [];
    }
    const directories = [];
    if (process.env.PATH) {
      for (const p of process.env.PATH.split(path2.delimiter)) {
        if (p) {
          directories.push(p);
        }
      }
    }
    const matches = [];
    for (const directory of directories) {
      const filePath = yield tryGetExecutablePath(path2.join(directory, tool), extensions);
      if (filePath) {
        matches.push(filePath);
      }
    }
    return matches;
  });
}
var __awaiter2;
var init_io = __esm({
  "node_modules/@actions/io/lib/io.js"() {
    init_io_util();
    __awaiter2 = function(thisArg, _arguments, P, generator) {
      function adopt(value) {
        return value instanceof P ? value : new P(function(resolve2) {
          resolve2(value);
        });
      }
      return new (P || (P = Promise))(function(resolve2, reject) {
        function fulfilled(value) {
          try {
            step(generator.next(value));
          } catch (e) {
            reject(e);
          }
        }
        function rejected(value) {
          try {
            step(generator["throw"](value));
          } catch (e) {
            reject(e);
          }
        }
        function step(result) {
          result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
        }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
      });
    };
  }
});

// node_modules/@actions/exec/lib/toolrunner.js
import * as os from "os";
import * as events from "events";
import * as child from "child_process";
import * as path3 from "path";
import { setTimeout as setTimeout2 } from "timers";
function argStringToArray(argString) {
  const args = [];
  let inQuotes = false;
  let escaped = false;
  let arg = "";
  function append(c) {
    if (escaped && c !== '"') {
      arg += "\\";
    }
    arg += c;
    escaped = false;
  }
  for (let i = 0; i < argString.length; i++) {
    const c = argString.charAt(i);
    if (c === '"') {
      if (!escaped) {
        inQuotes = !inQuotes;
      } else {
        append(c);
      }
      continue;
    }
    if (c === "\\" && escaped) {
      append(c);
      continue;
    }
    if (c === "\\" && inQuotes) {
      escaped = true;
      continue;
    }
    if (c === " " && !inQuotes) {
      if (arg.length > 0) {
        args.push(arg);
        arg = "";
      }
      continue;
    }
    append(c);
  }
  if (arg.length > 0) {
    args.push(arg.trim());
  }
  return args;
}
var __awaiter3, IS_WINDOWS2, ToolRunner, ExecState;
var init_toolrunner = __esm({
  "node_modules/@actions/exec/lib/toolrunner.js"() {
    init_io();
    init_io_util();
    __awaiter3 = function(thisArg, _arguments, P, generator) {
      function adopt(value) {
        return value instanceof P ? value : new P(function(resolve2) {
          resolve2(value);
        });
      }
      return new (P || (P = Promise))(function(resolve2, reject) {
        function fulfilled(value) {
          try {
            step(generator.next(value));
          } catch (e) {
            reject(e);
          }
        }
        function rejected(value) {
          try {
            step(generator["throw"](value));
          } catch (e) {
            reject(e);
          }
        }
        function step(result) {
          result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
        }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
      });
    };
    IS_WINDOWS2 = process.platform === "win32";
    ToolRunner = class extends events.EventEmitter {
      constructor(toolPath, args, options) {
        super();
        if (!toolPath) {
          throw new Error("Parameter 'toolPath' cannot be null or empty.");
        }
        this.toolPath = toolPath;
        this.args = args || [];
        this.options = options || {};
      }
      _debug(message) {
        if (this.options.listeners && this.options.listeners.debug) {
          this.options.listeners.debug(message);
        }
      }
      _getCommandString(options, noPrefix) {
        const toolPath = this._getSpawnFileName();
        const args = this._getSpawnArgs(options);
        let cmd = noPrefix ? "" : "[command]";
        if (IS_WINDOWS2) {
          if (this._isCmdFile()) {
            cmd += toolPath;
            for (const a of args) {
              cmd += ` ${a}`;
            }
          } else if (options.windowsVerbatimArguments) {
            cmd += `"${toolPath}"`;
            for (const a of args) {
              cmd += ` ${a}`;
            }
          } else {
            cmd += this._windowsQuoteCmdArg(toolPath);
            for (const a of args) {
              cmd += ` ${this._windowsQuoteCmdArg(a)}`;
            }
          }
        } else {
          cmd += toolPath;
          for (const a of args) {
            cmd += ` ${a}`;
          }
        }
        return cmd;
      }
      _processLineBuffer(data, strBuffer, onLine) {
        try {
          let s = strBuffer + data.toString();
          let n = s.indexOf(os.EOL);
          while (n > -1) {
            const line = s.substring(0, n);
            onLine(line);
            s = s.substring(n + os.EOL.length);
            n = s.indexOf(os.EOL);
          }
          return s;
        } catch (err) {
          this._debug(`error processing line. Failed with error ${err}`);
          return "";
        }
      }
      _getSpawnFileName() {
        if (IS_WINDOWS2) {
          if (this._isCmdFile()) {
            return process.env["COMSPEC"] || "cmd.exe";
          }
        }
        return this.toolPath;
      }
      _getSpawnArgs(options) {
        if (IS_WINDOWS2) {
          if (this._isCmdFile()) {
            let argline = `/D /S /C "${this._windowsQuoteCmdArg(this.toolPath)}`;
            for (const a of this.args) {
              argline += " ";
              argline += options.windowsVerbatimArguments ? a : this._windowsQuoteCmdArg(a);
            }
            argline += '"';
            return [argline];
          }
        }
        return this.args;
      }
      _endsWith(str, end) {
        return str.endsWith(end);
      }
      _isCmdFile() {
        const upperToolPath = this.toolPath.toUpperCase();
        return this._endsWith(upperToolPath, ".CMD") || this._endsWith(upperToolPath, ".BAT");
      }
      _windowsQuoteCmdArg(arg) {
        if (!this._isCmdFile()) {
          return this._uvQuoteCmdArg(arg);
        }
        if (!arg) {
          return '""';
        }
        const cmdSpecialChars = [
          " ",
          "	",
          "&",
          "(",
          ")",
          "[",
          "]",
          "{",
          "}",
          "^",
          "=",
          ";",
          "!",
          "'",
          "+",
          ",",
          "`",
          "~",
          "|",
          "<",
          ">",
          '"'
        ];
        let needsQuotes = false;
        for (const char of arg) {
          if (cmdSpecialChars.some((x) => x === char)) {
            needsQuotes = true;
            break;
          }
        }
        if (!needsQuotes) {
          return arg;
        }
        let reverse = '"';
        let quoteHit = true;
        for (let i = arg.length; i > 0; i--) {
          reverse += arg[i - 1];
          if (quoteHit && arg[i - 1] === "\\") {
            reverse += "\\";
          } else if (arg[i - 1] === '"') {
            quoteHit = true;
            reverse += '"';
          } else {
            quoteHit = false;
          }
        }
        reverse += '"';
        return reverse.split("").reverse().join("");
      }
      _uvQuoteCmdArg(arg) {
        if (!arg) {
          return '""';
        }
        if (!arg.includes(" ") && !arg.includes("	") && !arg.includes('"')) {
          return arg;
        }
        if (!arg.includes('"') && !arg.includes("\\")) {
          return `"${arg}"`;
        }
        let reverse = '"';
        let quoteHit = true;
        for (let i = arg.length; i > 0; i--) {
          reverse += arg[i - 1];
          if (quoteHit && arg[i - 1] === "\\") {
            reverse += "\\";
          } else if (arg[i - 1] === '"') {
            quoteHit = true;
            reverse += "\\";
          } else {
            quoteHit = false;
          }
        }
        reverse += '"';
        return reverse.split("").reverse().join("");
      }
      _cloneExecOptions(options) {
        options = options || {};
        const result = {
          cwd: options.cwd || process.cwd(),
          env: options.env || process.env,
          silent: options.silent || false,
          windowsVerbatimArguments: options.windowsVerbatimArguments || false,
          failOnStdErr: options.failOnStdErr || false,
          ignoreReturnCode: options.ignoreReturnCode || false,
          delay: options.delay || 1e4
        };
        result.outStream = options.outStream || process.stdout;
        result.errStream = options.errStream || process.stderr;
        return result;
      }
      _getSpawnOptions(options, toolPath) {
        options = options || {};
        const result = {};
        result.cwd = options.cwd;
        result.env = options.env;
        result["windowsVerbatimArguments"] = options.windowsVerbatimArguments || this._isCmdFile();
        if (options.windowsVerbatimArguments) {
          result.argv0 = `"${toolPath}"`;
        }
        return result;
      }
      /**
       * Exec a tool.
       * Output will be streamed to the live console.
       * Returns promise with return code
       *
       * @param     tool     path to tool to exec
       * @param     options  optional exec options.  See ExecOptions
       * @returns   number
       */
      exec() {
        return __awaiter3(this, void 0, void 0, function* () {
          if (!isRooted(this.toolPath) && (this.toolPath.includes("/") || IS_WINDOWS2 && this.toolPath.includes("\\"))) {
            this.toolPath = path3.resolve(process.cwd(), this.options.cwd || process.cwd(), this.toolPath);
          }
          this.toolPath = yield which(this.toolPath, true);
          return new Promise((resolve2, reject) => __awaiter3(this, void 0, void 0, function* () {
            this._debug(`exec tool: ${this.toolPath}`);
            this._debug("arguments:");
            for (const arg of this.args) {
              this._debug(`   ${arg}`);
            }
            const optionsNonNull = this._cloneExecOptions(this.options);
            if (!optionsNonNull.silent && optionsNonNull.outStream) {
              optionsNonNull.outStream.write(this._getCommandString(optionsNonNull) + os.EOL);
            }
            const state = new ExecState(optionsNonNull, this.toolPath);
            state.on("debug", (message) => {
              this._debug(message);
            });
            if (this.options.cwd && !(yield exists(this.options.cwd))) {
              return reject(new Error(`The cwd: ${this.options.cwd} does not exist!`));
            }
            const fileName = this._getSpawnFileName();
            const cp = child.spawn(fileName, this._getSpawnArgs(optionsNonNull), this._getSpawnOptions(this.options, fileName));
            let stdbuffer = "";
            if (cp.stdout) {
              cp.stdout.on("data", (data) => {
                if (this.options.listeners && this.options.listeners.stdout) {
                  this.options.listeners.stdout(data);
                }
                if (!optionsNonNull.silent && optionsNonNull.outStream) {
                  optionsNonNull.outStream.write(data);
                }
                stdbuffer = this._processLineBuffer(data, stdbuffer, (line) => {
                  if (this.options.listeners && this.options.listeners.stdline) {
                    this.options.listeners.stdline(line);
                  }
                });
              });
            }
            let errbuffer = "";
            if (cp.stderr) {
              cp.stderr.on("data", (data) => {
                state.processStderr = true;
                if (this.options.listeners && this.options.listeners.stderr) {
                  this.options.listeners.stderr(data);
                }
                if (!optionsNonNull.silent && optionsNonNull.errStream && optionsNonNull.outStream) {
                  const s = optionsNonNull.failOnStdErr ? optionsNonNull.errStream : optionsNonNull.outStream;
                  s.write(data);
                }
                errbuffer = this._processLineBuffer(data, errbuffer, (line) => {
                  if (this.options.listeners && this.options.listeners.errline) {
                    this.options.listeners.errline(line);
                  }
                });
              });
            }
            cp.on("error", (err) => {
              state.processError = err.message;
              state.processExited = true;
              state.processClosed = true;
              state.CheckComplete();
            });
            cp.on("exit", (code) => {
              state.processExitCode = code;
              state.processExited = true;
              this._debug(`Exit code ${code} received from tool '${this.toolPath}'`);
              state.CheckComplete();
            });
            cp.on("close", (code) => {
              state.processExitCode = code;
              state.processExited = true;
              state.processClosed = true;
              this._debug(`STDIO streams have closed for tool '${this.toolPath}'`);
              state.CheckComplete();
            });
            state.on("done", (error, exitCode) => {
              if (stdbuffer.length > 0) {
                this.emit("stdline", stdbuffer);
              }
              if (errbuffer.length > 0) {
                this.emit("errline", errbuffer);
              }
              cp.removeAllListeners();
              if (error) {
                reject(error);
              } else {
                resolve2(exitCode);
              }
            });
            if (this.options.input) {
              if (!cp.stdin) {
                throw new Error("child process missing stdin");
              }
              cp.stdin.end(this.options.input);
            }
          }));
        });
      }
    };
    ExecState = class _ExecState extends events.EventEmitter {
      constructor(options, toolPath) {
        super();
        this.processClosed = false;
        this.processError = "";
        this.processExitCode = 0;
        this.processExited = false;
        this.processStderr = false;
        this.delay = 1e4;
        this.done = false;
        this.timeout = null;
        if (!toolPath) {
          throw new Error("toolPath must not be empty");
        }
        this.options = options;
        this.toolPath = toolPath;
        if (options.delay) {
          this.delay = options.delay;
        }
      }
      CheckComplete() {
        if (this.done) {
          return;
        }
        if (this.processClosed) {
          this._setResult();
        } else if (this.processExited) {
          this.timeout = setTimeout2(_ExecState.HandleTimeout, this.delay, this);
        }
      }
      _debug(message) {
        this.emit("debug", message);
      }
      _setResult() {
        let error;
        if (this.processExited) {
          if (this.processError) {
            error = new Error(`There was an error when attempting to execute the process '${this.toolPath}'. This may indicate the process failed to start. Error: ${this.processError}`);
          } else if (this.processExitCode !== 0 && !this.options.ignoreReturnCode) {
            error = new Error(`The process '${this.toolPath}' failed with exit code ${this.processExitCode}`);
          } else if (this.processStderr && this.options.failOnStdErr) {
            error = new Error(`The process '${this.toolPath}' failed because one or more lines were written to the STDERR stream`);
          }
        }
        if (this.timeout) {
          clearTimeout(this.timeout);
          this.timeout = null;
        }
        this.done = true;
        this.emit("done", error, this.processExitCode);
      }
      static HandleTimeout(state) {
        if (state.done) {
          return;
        }
        if (!state.processClosed && state.processExited) {
          const message = `The STDIO streams did not close within ${state.delay / 1e3} seconds of the exit event from process '${state.toolPath}'. This may indicate a child process inherited the STDIO streams and has not yet exited.`;
          state._debug(message);
        }
        state._setResult();
      }
    };
  }
});

// node_modules/@actions/exec/lib/exec.js
function exec(commandLine, args, options) {
  return __awaiter4(this, void 0, void 0, function* () {
    const commandArgs = argStringToArray(commandLine);
    if (commandArgs.length === 0) {
      throw new Error(`Parameter 'commandLine' cannot be null or empty.`);
    }
    const toolPath = commandArgs[0];
    args = commandArgs.slice(1).concat(args || []);
    const runner = new ToolRunner(toolPath, args, options);
    return runner.exec();
  });
}
var __awaiter4;
var init_exec = __esm({
  "node_modules/@actions/exec/lib/exec.js"() {
    init_toolrunner();
    __awaiter4 = function(thisArg, _arguments, P, generator) {
      function adopt(value) {
        return value instanceof P ? value : new P(function(resolve2) {
          resolve2(value);
        });
      }
      return new (P || (P = Promise))(function(resolve2, reject) {
        function fulfilled(value) {
          try {
            step(generator.next(value));
          } catch (e) {
            reject(e);
          }
        }
        function rejected(value) {
          try {
            step(generator["throw"](value));
          } catch (e) {
            reject(e);
          }
        }
        function step(result) {
          result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
        }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
      });
    };
  }
});

// service/client/docker.ts
import { subscribe, unsubscribe } from "node:diagnostics_channel";
async function docker(args, o) {
  const command2 = `docker ${args.slice(0, 3).join(" ")}`;
  const stdout = [];
  const stderr = [];
  const said = () => (Buffer.concat(stderr).toString() || Buffer.concat(stdout).toString()).trim().slice(-600);
  const children = [];
  const onChild = (message) => children.push(message.process);
  const ours = () => children.find((child2) => sameArgs(child2.spawnargs?.slice(1) ?? [], args));
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      ours()?.kill("SIGKILL");
      const tail = said();
      const seconds2 = Math.round(o.timeoutMs / 1e3);
      reject(new Error(`\`${command2}\` did not finish within ${seconds2} s${tail ? `: ${tail}` : ""}`));
    }, o.timeoutMs);
  });
  subscribe("child_process", onChild);
  try {
    const run2 = exec("docker", args, {
      ignoreReturnCode: true,
      silent: !o.output,
      ...o.output ? { outStream: o.output, errStream: o.output } : {},
      listeners: { stdout: (chunk) => stdout.push(chunk), stderr: (chunk) => stderr.push(chunk) }
    }).catch((err) => {
      throw new Error(ours() ? `cannot run docker: ${err.message}` : NOT_ON_PATH);
    });
    const code = await Promise.race([run2, deadline]);
    if (code !== 0) throw new Error(`\`${command2}\` exited with ${code}: ${said()}`);
    return { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
  } finally {
    clearTimeout(timer);
    unsubscribe("child_process", onChild);
  }
}
function sameArgs(a, b) {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}
function buildxCreateArgs(o) {
  return [
    "buildx",
    "create",
    "--name",
    o.name,
    "--driver",
    "remote",
    "--driver-opt",
    `cacert=${o.caPath},cert=${o.certPath},key=${o.keyPath},servername=${o.serverName}`,
    ...o.use ? ["--use"] : [],
    o.endpoint
  ];
}
var NOT_ON_PATH, buildxBootstrapArgs, buildxRmArgs;
var init_docker = __esm({
  "service/client/docker.ts"() {
    "use strict";
    init_exec();
    NOT_ON_PATH = "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)";
    buildxBootstrapArgs = (name) => ["buildx", "inspect", "--bootstrap", name];
    buildxRmArgs = (name) => ["buildx", "rm", name];
  }
});

// service/client/insights.ts
import { setTimeout as sleep2 } from "node:timers/promises";
function insightsPending(build) {
  return build.insights === null && build.endedAt !== null && build.readyAt !== null;
}
async function withInsights(client, build, timeoutMs = 12e3, pollMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let current = build;
  while (insightsPending(current) && Date.now() < deadline) {
    await sleep2(pollMs);
    current = await client.getBuild(build.id).catch(() => current);
  }
  return current;
}
var init_insights = __esm({
  "service/client/insights.ts"() {
    "use strict";
  }
});

// service/client/keys.ts
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join as join3 } from "node:path";
function createKeyFiles(parent) {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join3(parent, "remote-builder-"));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyPath = join3(dir, "key.pem");
  writeFileSync(keyPath, privateKeyPem, { mode: 384 });
  return {
    dir,
    keyPath,
    certPath: join3(dir, "cert.pem"),
    caPath: join3(dir, "ca.pem"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem
  };
}
function writeCertificates(files, certificatePem, caPem) {
  writeFileSync(files.certPath, certificatePem, { mode: 384 });
  writeFileSync(files.caPath, caPem, { mode: 384 });
}
function removeKeyFiles(dir) {
  rmSync(dir, { recursive: true, force: true });
}
var init_keys = __esm({
  "service/client/keys.ts"() {
    "use strict";
  }
});

// service/client/session.ts
var session_exports = {};
__export(session_exports, {
  jobResult: () => jobResult,
  setUp: () => setUp,
  tearDown: () => tearDown
});
async function setUp(client, o) {
  const group = o.group ?? ungrouped;
  const startedAt = Date.now();
  const keys = createKeyFiles(o.keyParent);
  o.onSecret?.(keys.privateKeyPem);
  const state = {
    buildId: null,
    name: o.name ?? "",
    keyDir: keys.dir,
    builderCreated: false,
    startedAt,
    readySeconds: null
  };
  o.onState(state);
  const beating = new AbortController();
  try {
    const { ready, readySeconds } = await group("Waiting for a builder", async () => {
      const created = await client.createBuild({
        ...o.shape ? { shape: o.shape } : {},
        cache: o.cache,
        waitSeconds: o.waitTimeoutSeconds,
        labels: o.labels,
        publicKey: keys.publicKeyPem
      });
      state.buildId = created.id;
      state.name = o.name ?? `remote-builder-${created.id.slice(0, 8)}`;
      o.onState(state);
      o.log(
        created.state === "queued" ? `Build ${created.id} queued (shape ${created.shape}); waiting for ${created.queue?.waitingFor === "cache" ? "the cache volume" : "a concurrency slot"}` : `Build ${created.id} admitted (shape ${created.shape}, cache ${describeCache(created)})`
      );
      void keepAlive(client, created.id, created.heartbeatIntervalSeconds, beating.signal);
      const build = await waitUntilReady(client, created, o.waitTimeoutSeconds, o.log, startedAt);
      const seconds2 = (Date.now() - startedAt) / 1e3;
      o.log(
        `Builder ready in ${seconds2.toFixed(1)} s (${build.tier ?? "unknown"} tier, shape ${build.shape})`
      );
      return { ready: build, readySeconds: seconds2 };
    });
    state.readySeconds = readySeconds;
    await group("Setting up docker buildx", async () => {
      if (!ready.certificate) throw new Error("the service returned no client certificate for the build");
      writeCertificates(keys, ready.certificate, ready.broker.caCertificate);
      const args = buildxCreateArgs({
        name: state.name,
        endpoint: ready.broker.endpoint,
        serverName: ready.broker.serverName,
        caPath: keys.caPath,
        certPath: keys.certPath,
        keyPath: keys.keyPath,
        use: o.use
      });
      await docker(args, { timeoutMs: 3e4, output: o.dockerOutput });
      state.builderCreated = true;
      o.onState(state);
      const bootstrap = { timeoutMs: o.bootstrapTimeoutSeconds * 1e3, output: o.dockerOutput };
      await docker(buildxBootstrapArgs(state.name), bootstrap).catch((err) => {
        throw new Error(
          `the builder did not answer through the broker at ${ready.broker.endpoint}: ${err.message}`
        );
      });
      o.log(`docker buildx builder "${state.name}" is ready${o.use ? " and in use" : ""}`);
    });
    return { build: ready, state, endpoint: ready.broker.endpoint, readySeconds };
  } finally {
    beating.abort();
  }
}
async function tearDown(client, state, result, o) {
  const warnings = [];
  const removed = o.cleanup && state.builderCreated ? docker(buildxRmArgs(state.name), { timeoutMs: 3e4, output: o.dockerOutput }).then(
    () => `Removed docker buildx builder "${state.name}"`,
    (err) => {
      warnings.push(`could not remove the buildx builder "${state.name}": ${err.message}`);
      return null;
    }
  ) : null;
  const completed = state.buildId ? await completeBuild(client, state.buildId, result, warnings, o.log) : null;
  const build = completed && await withInsights(client, completed);
  const volume = build && build.cache.mode === "persistent" ? (await client.listCacheVolumes(build.accountId).catch(() => [])).find(
    (v) => v.name === build.cache.volume
  ) ?? null : null;
  const removal = await removed;
  if (removal) o.log(removal);
  removeKeyFiles(state.keyDir);
  return { build, volume, warnings };
}
async function completeBuild(client, buildId, result, warnings, log) {
  const build = await client.complete(buildId, result).catch(async (err) => {
    if (err instanceof ApiError && err.kind === "illegal-transition") {
      const ended = await client.getBuild(buildId).catch(() => null);
      warnings.push(`the build had already ended (${ended?.state ?? "unknown"}: ${ended?.endReason ?? "?"})`);
      return ended;
    }
    warnings.push(`could not complete build ${buildId}: ${err.message}`);
    return null;
  });
  if (build?.state === "completed") log(`Build ${build.id} completed as ${build.result}`);
  if (build?.state === "completed" && build.result !== result) {
    warnings.push(`the build had already been completed as ${build.result}, not ${result}`);
  }
  return build;
}
function jobResult(status) {
  const word = status.trim().toLowerCase();
  if (word === "success") return "success";
  if (["failure", "failed", "unstable"].includes(word)) return "failure";
  if (["cancelled", "canceled", "aborted"].includes(word)) return "cancelled";
  return null;
}
function describeCache(build) {
  if (build.cache.mode === "cold") return `cold: ${build.cache.reason ?? "no warm cache"}`;
  if (build.cache.mode === "persistent") {
    return `volume "${build.cache.volume}"${build.cache.reason ? `; ${build.cache.reason}` : ""}`;
  }
  return `waiting for volume "${build.cache.volume}"`;
}
var ungrouped;
var init_session = __esm({
  "service/client/session.ts"() {
    "use strict";
    init_api_client();
    init_docker();
    init_insights();
    init_keeper();
    init_keys();
    init_wait();
    ungrouped = (_name, stage) => stage();
  }
});

// service/cli/builder.ts
var builder_exports = {};
__export(builder_exports, {
  finishCommand: () => finishCommand,
  keepAliveCommand: () => keepAliveCommand,
  keeperClient: () => keeperClient,
  readState: () => readState,
  saveCredential: () => saveCredential,
  savedCredential: () => savedCredential,
  setupCommand: () => setupCommand,
  statusCommand: () => statusCommand
});
import { existsSync as existsSync3, mkdirSync as mkdirSync2, readFileSync as readFileSync3, renameSync, rmSync as rmSync2, writeFileSync as writeFileSync2 } from "node:fs";
import { tmpdir } from "node:os";
import { join as join4 } from "node:path";
function setupFlags(values) {
  const cache = values.cache;
  if (cache !== "wait" && cache !== "cold") throw new UsageError(`--cache is wait or cold, not "${cache}"`);
  return {
    cache,
    waitTimeoutSeconds: durationFlag("--wait-timeout", values["wait-timeout"]),
    labels: parseLabels(values.label ?? [])
  };
}
function keeperClient(env, now) {
  const server = env.RB_KEEPER_SERVER ?? "";
  const credential = env.RB_KEEPER_CREDENTIAL;
  const statePath2 = env.RB_KEEPER_STATE;
  const auth = cliCredential(server, {
    audience: env.RB_KEEPER_AUDIENCE ?? "remote-builder",
    initial: credential ? {
      credential,
      // Unknown times (an older setup): renewed only after a 401.
      expiresAt: Number(env.RB_KEEPER_CREDENTIAL_EXPIRES_AT) || Infinity,
      renewAt: Number(env.RB_KEEPER_CREDENTIAL_RENEW_AT) || Infinity
    } : void 0,
    ...statePath2 ? { onRenewed: (held) => saveCredential(statePath2, held) } : {},
    log: keeperLog(env),
    ...now ? { now } : {}
  });
  return new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT });
}
function parseLabels(given) {
  const labels = {};
  for (const label of given) {
    const at = label.indexOf("=");
    if (at < 1) throw new UsageError(`--label takes key=value, not "${label}"`);
    labels[label.slice(0, at)] = label.slice(at + 1);
  }
  return labels;
}
function savedCredential(state, values, path4, now) {
  return cliCredential(state.server, {
    ...values,
    initial: state.credential ? {
      credential: state.credential,
      expiresAt: state.credentialExpiresAt ?? Infinity,
      renewAt: state.credentialRenewAt ?? Infinity
    } : void 0,
    onRenewed: (held) => saveCredential(path4, held),
    ...now ? { now } : {}
  });
}
function credentialFields(held) {
  return {
    credential: held?.credential ?? null,
    credentialExpiresAt: held?.expiresAt ?? null,
    credentialRenewAt: held?.renewAt ?? null
  };
}
function saveCredential(path4, held) {
  if (!existsSync3(path4)) return;
  const state = { ...JSON.parse(readFileSync3(path4, "utf8")), ...credentialFields(held) };
  const next = `${path4}.${process.pid}.tmp`;
  writeFileSync2(next, JSON.stringify(state), { mode: 384 });
  renameSync(next, path4);
}
function readState(path4, name) {
  if (!existsSync3(path4)) {
    throw new Error(
      `no builder named "${name}" was set up here (looked for ${path4}); run \`remote-builder setup\` first`
    );
  }
  return JSON.parse(readFileSync3(path4, "utf8"));
}
var stateDir, statePath, USER_AGENT, say, session, setupCommand, finishCommand, statusCommand, keepAliveCommand, heldBy;
var init_builder = __esm({
  "service/cli/builder.ts"() {
    "use strict";
    init_api_client();
    init_keeper();
    init_renewal();
    init_wait();
    init_build_summary();
    init_builder_flags();
    init_command();
    init_http2();
    init_id_token();
    stateDir = (given) => given ?? process.env.RB_STATE_DIR ?? join4(tmpdir(), `remote-builder-${process.getuid?.() ?? "user"}`);
    statePath = (dir, name) => join4(dir, `${name}.json`);
    USER_AGENT = "remote-builder-cli/1";
    say = (line) => process.stderr.write(`${line}
`);
    session = () => Promise.resolve().then(() => (init_session(), session_exports));
    setupCommand = command(SETUP, async ({ values }) => {
      const { cache, waitTimeoutSeconds, labels } = setupFlags(values);
      const { setUp: setUp2, tearDown: tearDown2 } = await session();
      const server = serverUrl(values.server);
      const dir = stateDir(values["state-dir"]);
      mkdirSync2(dir, { recursive: true, mode: 448 });
      const path4 = statePath(dir, values.name);
      if (existsSync3(path4)) {
        throw new Error(
          `a builder named "${values.name}" is already set up here; run \`remote-builder finish --name ${values.name}\` first, or pick another --name`
        );
      }
      const auth = cliCredential(server, values);
      await auth.token();
      const client = new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT });
      const save = (session2, keeperPid = null) => writeFileSync2(
        path4,
        JSON.stringify({ server, session: session2, keeperPid, ...credentialFields(heldBy(auth)) }),
        { mode: 384 }
      );
      let started = null;
      try {
        const result = await setUp2(client, {
          shape: values.shape,
          cache,
          waitTimeoutSeconds,
          name: values.name,
          use: !values["no-use"],
          labels,
          keyParent: dir,
          bootstrapTimeoutSeconds: 60,
          log: say,
          onState: (s) => {
            started = s;
            save(s);
          }
        });
        const keeperToken = await auth.token();
        const held = heldBy(auth);
        const pid = spawnKeeper(
          ["keep-alive"],
          {
            RB_KEEPER_SERVER: server,
            RB_KEEPER_BUILD: result.build.id,
            RB_KEEPER_INTERVAL: String(result.build.heartbeatIntervalSeconds),
            RB_KEEPER_CREDENTIAL: keeperToken,
            RB_KEEPER_AUDIENCE: values.audience,
            RB_KEEPER_STATE: path4,
            ...held ? {
              RB_KEEPER_CREDENTIAL_EXPIRES_AT: String(held.expiresAt),
              RB_KEEPER_CREDENTIAL_RENEW_AT: String(held.renewAt)
            } : {}
          },
          join4(result.state.keyDir, "heartbeats.log")
        );
        save(result.state, pid);
        say(
          `Next: docker buildx build --builder ${values.name} \u2026   (then: remote-builder finish --result success)`
        );
        process.stdout.write(
          `${JSON.stringify({ name: values.name, buildId: result.build.id, endpoint: result.endpoint, tier: result.build.tier, readySeconds: result.readySeconds })}
`
        );
        return 0;
      } catch (err) {
        if (started) await tearDown2(client, started, "cancelled", { cleanup: true, log: say }).catch(() => {
        });
        rmSync2(path4, { force: true });
        throw err;
      }
    });
    finishCommand = command(FINISH, async ({ values }) => {
      const { jobResult: jobResult2, tearDown: tearDown2 } = await session();
      const result = jobResult2(values.result);
      if (!result) {
        throw new UsageError(
          `--result is success, failure or cancelled (or the CI's word for one: failed, canceled, ABORTED, \u2026), not "${values.result}"`
        );
      }
      const path4 = statePath(stateDir(values["state-dir"]), values.name);
      const state = readState(path4, values.name);
      if (state.keeperPid) stopKeeper(state.keeperPid);
      const client = new ApiClient({
        serverUrl: state.server,
        auth: savedCredential(state, values, path4),
        userAgent: USER_AGENT
      });
      const { build, warnings } = await tearDown2(client, state.session, result, {
        cleanup: !values["keep-builder"],
        log: say
      });
      rmSync2(path4, { force: true });
      for (const warning of warnings) say(`warning: ${warning}`);
      if (build) printResult(values.json, build, buildSummary);
      return 0;
    });
    statusCommand = command(STATUS, async ({ values }) => {
      const path4 = statePath(stateDir(values["state-dir"]), values.name);
      const state = readState(path4, values.name);
      if (!state.session.buildId) throw new Error("the setup never got as far as a build");
      const client = new ApiClient({
        serverUrl: state.server,
        auth: savedCredential(state, values, path4),
        userAgent: USER_AGENT
      });
      const build = await client.getBuild(state.session.buildId);
      say(progressLine(build, (Date.now() - state.session.startedAt) / 1e3));
      printResult(values.json, build, buildSummary);
      return 0;
    });
    keepAliveCommand = command(KEEP_ALIVE, async () => {
      await keeperProcess(keeperClient(process.env));
      return 0;
    });
    heldBy = (auth) => auth instanceof RenewingCredential ? auth.current() : null;
  }
});

// service/cli/cache.ts
var cache_exports = {};
__export(cache_exports, {
  CACHE_HELP: () => CACHE_HELP,
  cacheCommand: () => cacheCommand
});
function clientFor(account, values) {
  const server = serverUrl(values.server);
  return new ApiClient({
    serverUrl: server,
    auth: cliCredential(server, { ...values, account }),
    userAgent: "remote-builder-cli/1"
  });
}
function accountOf(name, positionals, atMost) {
  const [account] = positionals;
  if (!account) throw new UsageError(`name the account: remote-builder ${name} <account>`);
  if (positionals.length > atMost) {
    throw new UsageError(`\`remote-builder ${name}\` takes no argument "${positionals[atMost]}"`);
  }
  return account;
}
function volumesTable(account, volumes) {
  if (volumes.length === 0) return `The account ${account} has no cache volumes.`;
  return table(
    ["VOLUME", "SIZE", "CREATED", "LAST USED"],
    volumes.map((v) => [v.name, `${v.sizeGiB} GiB`, minute(v.createdAt), minute(v.lastUsedAt)])
  );
}
var OPTIONS_HELP, OPTIONS, LIST, RESET, CACHE_HELP, listCommand, resetCommand, cacheCommand;
var init_cache = __esm({
  "service/cli/cache.ts"() {
    "use strict";
    init_api_client();
    init_command();
    init_format();
    init_http2();
    init_id_token();
    OPTIONS_HELP = `Options:
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN); without one, the CI's OIDC
                        identity token is exchanged, for the account named here
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --json                print the API's JSON, for scripts
  -h, --help            print this help`;
    OPTIONS = {
      server: { type: "string" },
      token: { type: "string" },
      audience: { type: "string", default: "remote-builder" }
    };
    LIST = {
      name: "cache list",
      help: `Usage: remote-builder cache list <account> [options]

The account's cache volumes: name, size, when made and when a build last used each.

${OPTIONS_HELP}

Example:
  remote-builder cache list acme --json | jq -r '.[].name'

${EXIT_CODES_HELP}`,
      options: OPTIONS,
      allowPositionals: true
    };
    RESET = {
      name: "cache reset",
      help: `Usage: remote-builder cache reset <account> [<volume>] [options]

Throws a cache volume away (default: buildkit), so that the next build starts cold. Refused
while a build holds the volume.

${OPTIONS_HELP}

Example:
  remote-builder cache reset acme

${EXIT_CODES_HELP}`,
      options: OPTIONS,
      allowPositionals: true
    };
    CACHE_HELP = `Usage: remote-builder cache <command> <account> [options]

The account's cache volumes:
  remote-builder cache list <account>              list them
  remote-builder cache reset <account> [<volume>]  throw one away (default: buildkit), so the
                                                   next build starts cold

remote-builder cache <command> --help shows the command's options.`;
    listCommand = command(LIST, async ({ values, positionals }) => {
      const account = accountOf(LIST.name, positionals, 1);
      const volumes = await clientFor(account, values).listCacheVolumes(account);
      printResult(values.json, volumes, (all) => volumesTable(account, all));
      return 0;
    });
    resetCommand = command(RESET, async ({ values, positionals }) => {
      const account = accountOf(RESET.name, positionals, 2);
      const volume = positionals[1] ?? "buildkit";
      const reset = await clientFor(account, values).resetCacheVolume(account, volume);
      printResult(values.json, reset, () => `Reset cache volume "${volume}": the next build starts cold.`);
      return 0;
    });
    cacheCommand = commandGroup("cache", CACHE_HELP, { list: listCommand, reset: resetCommand });
  }
});

// service/cli/usage.ts
var usage_exports = {};
__export(usage_exports, {
  usageCommand: () => usageCommand
});
function usageSummary(usage) {
  const byShape = Object.entries(usage.buildMinutesByShape).map(([shape, minutes]) => `${shape} ${minutes}`);
  const summary = fields([
    ["account", usage.account],
    ["from", minute(usage.from)],
    ["to", minute(usage.to)],
    ["build minutes", `${usage.buildMinutes}${byShape.length > 0 ? ` (${byShape.join(", ")})` : ""}`],
    ["cache GiB-hours", String(usage.storageGiBHours)]
  ]);
  if (!usage.costs) return summary;
  const { currency, lines, total } = usage.costs;
  const costs = table(
    ["ITEM", "QUANTITY", "UNIT PRICE", "AMOUNT"],
    [
      ...lines.map((l) => [
        l.item,
        `${l.quantity} ${l.unit}`,
        String(l.unitPrice),
        `${l.amount} ${currency}`
      ]),
      ["total", "", "", `${total} ${currency}`]
    ]
  );
  return `${summary}

${costs}`;
}
var USAGE, usageCommand;
var init_usage = __esm({
  "service/cli/usage.ts"() {
    "use strict";
    init_api_client();
    init_command();
    init_format();
    init_http2();
    USAGE = {
      name: "usage",
      help: `Usage: remote-builder usage <account> [options]

The account's build minutes by shape, cache GiB-hours and, where prices are set, their costs,
over a range of time (default: this month so far).

Options:
  --from ISO            the range's start, e.g. 2030-01-01T00:00:00Z
  --to ISO              the range's end (not included)
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN)
  --admin-token T       else the admin token (RB_ADMIN_TOKEN, else .data/admin-token)
  --json                print the API's JSON, for scripts
  -h, --help            print this help

Example:
  remote-builder usage acme --from 2030-01-01T00:00:00Z --to 2030-02-01T00:00:00Z --json

${EXIT_CODES_HELP}`,
      options: {
        server: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        token: { type: "string" },
        "admin-token": { type: "string" }
      },
      allowPositionals: true
    };
    usageCommand = command(USAGE, async ({ values, positionals }) => {
      const [account, extra] = positionals;
      if (!account) throw new UsageError("name the account: remote-builder usage <account>");
      if (extra) throw new UsageError(`\`remote-builder usage\` takes one account, not also "${extra}"`);
      const token = values.token ?? process.env.RB_TOKEN ?? adminToken(values["admin-token"]);
      const client = new ApiClient({ serverUrl: serverUrl(values.server), auth: staticToken(token) });
      const usage = await client.usage(account, {
        ...values.from ? { from: values.from } : {},
        ...values.to ? { to: values.to } : {}
      });
      printResult(values.json, usage, usageSummary);
      return 0;
    });
  }
});

// service/cli/dashboard.ts
var dashboard_exports = {};
__export(dashboard_exports, {
  dashboardCommand: () => dashboardCommand
});
import { spawn as spawn3 } from "node:child_process";
import { accessSync, constants as constants3 } from "node:fs";
import { delimiter as delimiter2, join as join5 } from "node:path";
function openInBrowser(url) {
  const opener = ["xdg-open", "open"].find(onPath);
  if (!opener) return;
  try {
    const child2 = spawn3(opener, [url], { detached: true, stdio: "ignore" });
    child2.on("error", () => void 0);
    child2.unref();
  } catch {
  }
}
function onPath(name) {
  return (process.env.PATH ?? "").split(delimiter2).some((dir) => {
    try {
      accessSync(join5(dir, name), constants3.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
var DASHBOARD, dashboardCommand;
var init_dashboard = __esm({
  "service/cli/dashboard.ts"() {
    "use strict";
    init_api_client();
    init_command();
    init_http2();
    init_id_token();
    DASHBOARD = {
      name: "dashboard",
      help: `Usage: remote-builder dashboard [options]

Prints a one-time sign-in link to the account's dashboard (builds, cache volumes, this month's
usage, trust relationships) and opens it in a browser where it can (xdg-open or open). The link
works once, for a few minutes; it becomes a session of an hour. An admin's link (--admin) sees
every account.

Options:
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN); without one, the CI's OIDC
                        identity token is exchanged
  --account HANDLE      the account to act for, when several trust the CI job
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --admin               sign in as the admin, with --admin-token, RB_ADMIN_TOKEN or
                        .data/admin-token
  --admin-token T       the admin token (implies --admin)
  --no-open             only print the link
  --json                print the API's JSON and the link's URL, for scripts
  -h, --help            print this help

Example:
  RB_TOKEN=rba_\u2026 remote-builder dashboard --server https://builders.example.com

${EXIT_CODES_HELP}`,
      options: {
        server: { type: "string" },
        token: { type: "string" },
        account: { type: "string" },
        audience: { type: "string", default: "remote-builder" },
        admin: { type: "boolean" },
        "admin-token": { type: "string" },
        "no-open": { type: "boolean" }
      },
      allowPositionals: true
    };
    dashboardCommand = command(DASHBOARD, async ({ values, positionals }) => {
      if (positionals.length > 0) {
        throw new UsageError(`\`remote-builder dashboard\` takes no argument "${positionals[0]}"`);
      }
      const server = serverUrl(values.server);
      const asAdmin = values.admin === true || values["admin-token"] !== void 0;
      const client = new ApiClient({
        serverUrl: server,
        auth: asAdmin ? staticToken(adminToken(values["admin-token"])) : cliCredential(server, values),
        userAgent: "remote-builder-cli/1"
      });
      const link = await client.dashboardLink();
      printResult(values.json, link, (l) => `${l.url}
(works once, until ${l.expiresAt})`);
      if (values["no-open"] !== true) openInBrowser(link.url);
      return 0;
    });
  }
});

// service/cli/job-main.ts
init_command();

// service/cli/job-commands.ts
init_command();
var lazily = (load) => async (args) => (await load())(args);
var JOB_COMMANDS = {
  setup: lazily(async () => (await Promise.resolve().then(() => (init_builder(), builder_exports))).setupCommand),
  finish: lazily(async () => (await Promise.resolve().then(() => (init_builder(), builder_exports))).finishCommand),
  status: lazily(async () => (await Promise.resolve().then(() => (init_builder(), builder_exports))).statusCommand),
  cache: lazily(async () => (await Promise.resolve().then(() => (init_cache(), cache_exports))).cacheCommand),
  usage: lazily(async () => (await Promise.resolve().then(() => (init_usage(), usage_exports))).usageCommand),
  dashboard: lazily(async () => (await Promise.resolve().then(() => (init_dashboard(), dashboard_exports))).dashboardCommand),
  "keep-alive": lazily(async () => (await Promise.resolve().then(() => (init_builder(), builder_exports))).keepAliveCommand)
};
var JOB_COMMANDS_HELP = `In a CI job:
  setup      get a remote builder for this job, as a docker buildx builder
  finish     hand the builder back with the job's result
  status     where this job's build stands
  cache      list the account's cache volumes, or reset one
  usage      the account's build minutes, cache GiB-hours and costs
  dashboard  a one-time sign-in link to the account's dashboard (opened where it can be)`;
var HELP_FOOTER = `Every command takes --help, and --json to print its result as JSON for scripts.
remote-builder --version (or remote-builder version) prints the version.

${EXIT_CODES_HELP}`;

// service/cli/job-main.ts
var HELP = `remote-builder \u2014 a warm, isolated BuildKit builder for this CI job

Usage: remote-builder <command> [options]

${JOB_COMMANDS_HELP}

${HELP_FOOTER}`;
exitWith(dispatch(process.argv.slice(2), JOB_COMMANDS, HELP));
