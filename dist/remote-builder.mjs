import { createRequire } from "node:module"; const require = createRequire(import.meta.url);

// service/cli/builder.ts
import { existsSync as existsSync3, mkdirSync as mkdirSync2, readFileSync as readFileSync3, rmSync as rmSync2, writeFileSync as writeFileSync2 } from "node:fs";
import { tmpdir } from "node:os";
import { join as join2 } from "node:path";
import { parseArgs } from "node:util";

// service/client/http.ts
import http from "node:http";
import https from "node:https";
var agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true })
};
function httpRequest(url, o) {
  const target = new URL(url);
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
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
          resolve({
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

// service/client/api-client.ts
var OPERATIONS = {
  exchangeOidcToken: ["POST", "/api/v1/auth/oidc"],
  createBuild: ["POST", "/api/v1/builds"],
  getBuild: ["GET", "/api/v1/builds/{id}"],
  heartbeatBuild: ["POST", "/api/v1/builds/{id}/heartbeat"],
  completeBuild: ["POST", "/api/v1/builds/{id}/complete"],
  listCacheVolumes: ["GET", "/api/v1/accounts/{account}/cache-volumes"],
  resetCacheVolume: ["DELETE", "/api/v1/accounts/{account}/cache-volumes/{name}"],
  getUsage: ["GET", "/api/v1/accounts/{account}/usage"]
};
var ApiError = class extends Error {
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
var staticToken = (token) => ({ token: async () => token });
function exchangedToken(exchange, initial) {
  let current = initial ?? null;
  const refresh = async () => current = await exchange();
  return { token: async () => current ?? refresh(), refresh };
}
var IDEMPOTENT = /* @__PURE__ */ new Set([
  "getBuild",
  "heartbeatBuild",
  "completeBuild",
  "listCacheVolumes",
  "getUsage"
]);
var RETRY_DELAYS_MS = [250, 1e3, 3e3];
var MAX_RETRY_AFTER_MS = 1e4;
var ApiClient = class {
  constructor(options) {
    this.options = options;
    this.serverUrl = options.serverUrl.replace(/\/+$/, "");
  }
  options;
  serverUrl;
  exchangeOidcToken(token, account) {
    return this.call("exchangeOidcToken", {}, { token, ...account ? { account } : {} }, { auth: false });
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
  async call(op, params, body, opts = {}) {
    const [method, template] = OPERATIONS[op];
    const path = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name] ?? ""));
    const query = opts.query && Object.keys(opts.query).length > 0 ? `?${new URLSearchParams(opts.query)}` : "";
    const url = this.serverUrl + path + query;
    const auth = opts.auth === false ? null : this.options.auth ?? null;
    let token = auth ? await auth.token() : null;
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
        await new Promise((resolve) => setTimeout(resolve, Math.max(delay, asked)));
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
var NEVER_SENT = /* @__PURE__ */ new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
function parseJson(text) {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// service/client/keeper.ts
import { spawn } from "node:child_process";
import { constants, setPriority } from "node:os";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
var FINAL = /* @__PURE__ */ new Set(["illegal-transition", "claim-lost", "not-found"]);
async function keepAlive(client, buildId, intervalSeconds, signal, log = () => {
}) {
  while (!signal.aborted) {
    try {
      await client.heartbeat(buildId);
    } catch (err) {
      if (err instanceof ApiError && FINAL.has(err.kind)) {
        log(`heartbeats stopped: ${err.message}`);
        return err.kind;
      }
      log(`heartbeat failed, retrying: ${err.message}`);
    }
    await sleep(intervalSeconds * 1e3, void 0, { signal }).catch(() => {
    });
  }
  return "stopped";
}
function spawnKeeper(args, env, logPath) {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...env, RB_KEEPER_LOG: logPath }
  });
  child.unref();
  if (child.pid === void 0) throw new Error("could not start the heartbeat process");
  try {
    setPriority(child.pid, constants.priority.PRIORITY_LOW);
  } catch {
  }
  return child.pid;
}
async function keeperProcess(client, env = process.env) {
  process.on("SIGTERM", () => process.exit(0));
  const log = (line) => {
    if (env.RB_KEEPER_LOG) appendFileSync(env.RB_KEEPER_LOG, `${(/* @__PURE__ */ new Date()).toISOString()} ${line}
`);
  };
  const interval = Number(env.RB_KEEPER_INTERVAL) || 10;
  await keepAlive(client, env.RB_KEEPER_BUILD ?? "", interval, new AbortController().signal, log);
}
function stopKeeper(pid) {
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, "utf8").includes("keep-alive")) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
  }
}

// service/client/docker.ts
import { spawn as spawn2 } from "node:child_process";
function docker(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn2("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => stdout += chunk.toString());
    child.stderr.on("data", (chunk) => stderr += chunk.toString());
    const command = `docker ${args.slice(0, 3).join(" ")}`;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`\`${command}\` did not finish within ${Math.round(timeoutMs / 1e3)} s`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          err.code === "ENOENT" ? "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)" : `cannot run docker: ${err.message}`
        )
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ code, stdout, stderr });
      else reject(new Error(`\`${command}\` exited with ${code}: ${(stderr || stdout).trim().slice(-600)}`));
    });
  });
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
var buildxBootstrapArgs = (name) => ["buildx", "inspect", "--bootstrap", name];
var buildxRmArgs = (name) => ["buildx", "rm", name];

// service/client/keys.ts
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
function createKeyFiles(parent) {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "remote-builder-"));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyPath = join(dir, "key.pem");
  writeFileSync(keyPath, privateKeyPem, { mode: 384 });
  return {
    dir,
    keyPath,
    certPath: join(dir, "cert.pem"),
    caPath: join(dir, "ca.pem"),
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

// service/client/wait.ts
var POLL_SECONDS = 10;
var TERMINAL = /* @__PURE__ */ new Set(["completed", "failed", "expired", "reaped"]);
function progressLine(build, elapsedSeconds) {
  const after = `(${elapsedSeconds.toFixed(0)} s)`;
  if (build.state === "queued" && build.queue) {
    const ahead = Math.max(0, build.queue.position - 1);
    return build.queue.waitingFor === "concurrency" ? `Queued: the account runs as many builds as its plan allows; ${ahead} build(s) ahead of this one ${after}` : `Queued: another build holds the cache volume "${build.cache.volume}"; ${ahead} build(s) ahead ${after}`;
  }
  if (build.state === "queued") return `Queued ${after}`;
  if (build.state === "pending")
    return `Booting a ${build.tier ?? "new"} builder (shape ${build.shape}) ${after}`;
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

// service/client/session.ts
async function setUp(client, o) {
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
  const beating = new AbortController();
  void keepAlive(client, created.id, created.heartbeatIntervalSeconds, beating.signal);
  try {
    const ready = await waitUntilReady(client, created, o.waitTimeoutSeconds, o.log, startedAt);
    state.readySeconds = (Date.now() - startedAt) / 1e3;
    o.log(
      `Builder ready in ${state.readySeconds.toFixed(1)} s (${ready.tier ?? "unknown"} tier, shape ${ready.shape})`
    );
    if (!ready.certificate) throw new Error("the service returned no client certificate for the build");
    writeCertificates(keys, ready.certificate, ready.broker.caCertificate);
    await docker(
      buildxCreateArgs({
        name: state.name,
        endpoint: ready.broker.endpoint,
        serverName: ready.broker.serverName,
        caPath: keys.caPath,
        certPath: keys.certPath,
        keyPath: keys.keyPath,
        use: o.use
      }),
      3e4
    );
    state.builderCreated = true;
    o.onState(state);
    await docker(buildxBootstrapArgs(state.name), o.bootstrapTimeoutSeconds * 1e3).catch((err) => {
      throw new Error(
        `the builder did not answer through the broker at ${ready.broker.endpoint}: ${err.message}`
      );
    });
    o.log(`docker buildx builder "${state.name}" is ready${o.use ? " and in use" : ""}`);
    return { build: ready, state, endpoint: ready.broker.endpoint, readySeconds: state.readySeconds };
  } finally {
    beating.abort();
  }
}
async function tearDown(client, state, result, o) {
  const warnings = [];
  const removed = o.cleanup && state.builderCreated ? docker(buildxRmArgs(state.name), 3e4).then(
    () => o.log(`Removed docker buildx builder "${state.name}"`),
    (err) => warnings.push(`could not remove the buildx builder "${state.name}": ${err.message}`)
  ) : null;
  const build = state.buildId ? await completeBuild(client, state.buildId, result, warnings, o.log) : null;
  const volume = build && build.cache.mode === "persistent" ? (await client.listCacheVolumes(build.accountId).catch(() => [])).find(
    (v) => v.name === build.cache.volume
  ) ?? null : null;
  await removed;
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

// service/cli/id-token.ts
import { execFile } from "node:child_process";
import { promisify } from "node:util";
var run = promisify(execFile);
var CREDENTIAL_HELP = `remote-builder needs a credential. Either:
  - an agent token: RB_TOKEN=rba_\u2026 (remote-builder admin tokens create <account>), or
  - the CI's OIDC identity token, exchanged under a trust relationship of the account:
      GitHub Actions  permissions: id-token: write (found automatically)
      GitLab CI       id_tokens: { RB_ID_TOKEN: { aud: remote-builder } }
      CircleCI        found automatically (CIRCLE_OIDC_TOKEN_V2)
      Buildkite       found automatically (buildkite-agent oidc request-token)
      any other       RB_ID_TOKEN=<the job's identity token>`;
async function ciIdentityToken(audience, env = process.env) {
  if (env.RB_ID_TOKEN) return env.RB_ID_TOKEN;
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
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
var agentToken = (given) => given ?? process.env.RB_TOKEN;
function cliCredential(server, options) {
  const agent = agentToken(options.token);
  if (agent) return staticToken(agent);
  return exchangedToken(async () => {
    const idToken = await ciIdentityToken(options.audience);
    if (!idToken) throw new Error(CREDENTIAL_HELP);
    return (await new ApiClient({ serverUrl: server }).exchangeOidcToken(idToken, options.account)).credential;
  }, options.initial);
}

// service/cli/builder.ts
var BUILDER_USAGE = `  remote-builder setup [--shape S] [--cache wait|cold] [--wait-timeout 600] [--name N] [--no-use]
                       [--label K=V]\u2026
    a remote builder for this CI job, as a docker buildx builder (default name: remote-builder)
  remote-builder finish [--result success|failure|cancelled] [--name N] [--keep-builder]
    hand the builder back with the job's result and remove the buildx builder
  remote-builder status [--name N]
    where this job's build stands
    each takes --server URL (RB_SERVER_URL) and --token T (RB_TOKEN, an agent token); without a
    token, the CI's OIDC identity token is exchanged (--audience, default remote-builder; --account
    when several accounts trust the job)`;
var COMMON = {
  server: { type: "string" },
  token: { type: "string" },
  audience: { type: "string", default: "remote-builder" },
  account: { type: "string" },
  name: { type: "string", default: "remote-builder" },
  "state-dir": { type: "string" }
};
var stateDir = (given) => given ?? process.env.RB_STATE_DIR ?? join2(tmpdir(), `remote-builder-${process.getuid?.() ?? "user"}`);
var statePath = (dir, name) => join2(dir, `${name}.json`);
var USER_AGENT = "remote-builder-cli/1";
var say = (line) => process.stderr.write(`${line}
`);
async function setupCommand(args) {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      shape: { type: "string" },
      cache: { type: "string", default: "wait" },
      "wait-timeout": { type: "string", default: "600" },
      "no-use": { type: "boolean", default: false },
      label: { type: "string", multiple: true }
    }
  });
  if (values.cache !== "wait" && values.cache !== "cold") {
    throw new Error(`--cache is wait or cold, not "${values.cache}"`);
  }
  const waitTimeout = Number(values["wait-timeout"]);
  if (!/^\d+$/.test(values["wait-timeout"]) || !Number.isSafeInteger(waitTimeout)) {
    throw new Error(`--wait-timeout is whole seconds, not "${values["wait-timeout"]}"`);
  }
  const labels = parseLabels(values.label ?? []);
  const server = serverUrl(values.server);
  const dir = stateDir(values["state-dir"]);
  mkdirSync2(dir, { recursive: true, mode: 448 });
  const path = statePath(dir, values.name);
  if (existsSync3(path)) {
    throw new Error(
      `a builder named "${values.name}" is already set up here; run \`remote-builder finish --name ${values.name}\` first, or pick another --name`
    );
  }
  const auth = cliCredential(server, values);
  const token = await auth.token();
  const credential = agentToken(values.token) ? null : token;
  const client = new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT });
  const save = (session2, keeperPid = null) => writeFileSync2(path, JSON.stringify({ server, session: session2, keeperPid, credential }), {
    mode: 384
  });
  let session = null;
  try {
    const result = await setUp(client, {
      shape: values.shape,
      cache: values.cache,
      waitTimeoutSeconds: waitTimeout,
      name: values.name,
      use: !values["no-use"],
      labels,
      keyParent: dir,
      bootstrapTimeoutSeconds: 60,
      log: say,
      onState: (s) => {
        session = s;
        save(s);
      }
    });
    const pid = spawnKeeper(
      ["keep-alive"],
      {
        RB_KEEPER_SERVER: server,
        RB_KEEPER_BUILD: result.build.id,
        RB_KEEPER_INTERVAL: String(result.build.heartbeatIntervalSeconds),
        RB_KEEPER_CREDENTIAL: await auth.token(),
        RB_KEEPER_AUDIENCE: values.audience
      },
      join2(result.state.keyDir, "heartbeats.log")
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
    if (session) await tearDown(client, session, "cancelled", { cleanup: true, log: say }).catch(() => {
    });
    rmSync2(path, { force: true });
    throw err;
  }
}
async function finishCommand(args) {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      result: { type: "string", default: "success" },
      "keep-builder": { type: "boolean" }
    }
  });
  const result = jobResult(values.result);
  if (!result) {
    throw new Error(
      `--result is success, failure or cancelled (or the CI's word for one: failed, canceled, ABORTED, \u2026), not "${values.result}"`
    );
  }
  const path = statePath(stateDir(values["state-dir"]), values.name);
  const state = readState(path, values.name);
  if (state.keeperPid) stopKeeper(state.keeperPid);
  const client = new ApiClient({
    serverUrl: state.server,
    auth: savedCredential(state, values),
    userAgent: USER_AGENT
  });
  const { build, warnings } = await tearDown(client, state.session, result, {
    cleanup: !values["keep-builder"],
    log: say
  });
  rmSync2(path, { force: true });
  for (const warning of warnings) say(`warning: ${warning}`);
  if (build) process.stdout.write(`${JSON.stringify(build, null, 2)}
`);
  return 0;
}
async function statusCommand(args) {
  const { values } = parseArgs({ args, options: COMMON });
  const state = readState(statePath(stateDir(values["state-dir"]), values.name), values.name);
  if (!state.session.buildId) throw new Error("the setup never got as far as a build");
  const client = new ApiClient({
    serverUrl: state.server,
    auth: savedCredential(state, values),
    userAgent: USER_AGENT
  });
  const build = await client.getBuild(state.session.buildId);
  say(progressLine(build, (Date.now() - state.session.startedAt) / 1e3));
  process.stdout.write(`${JSON.stringify(build, null, 2)}
`);
  return 0;
}
async function keepAliveCommand() {
  const env = process.env;
  const server = env.RB_KEEPER_SERVER ?? "";
  const auth = cliCredential(server, {
    audience: env.RB_KEEPER_AUDIENCE ?? "remote-builder",
    ...env.RB_KEEPER_CREDENTIAL ? { initial: env.RB_KEEPER_CREDENTIAL } : {}
  });
  await keeperProcess(new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT }));
  return 0;
}
function parseLabels(given) {
  const labels = {};
  for (const label of given) {
    const at = label.indexOf("=");
    if (at < 1) throw new Error(`--label takes key=value, not "${label}"`);
    labels[label.slice(0, at)] = label.slice(at + 1);
  }
  return labels;
}
function savedCredential(state, values) {
  return cliCredential(state.server, {
    ...values,
    ...state.credential ? { initial: state.credential } : {}
  });
}
function readState(path, name) {
  if (!existsSync3(path)) {
    throw new Error(
      `no builder named "${name}" was set up here (looked for ${path}); run \`remote-builder setup\` first`
    );
  }
  return JSON.parse(readFileSync3(path, "utf8"));
}

// service/cli/cache.ts
import { parseArgs as parseArgs2 } from "node:util";
var CACHE_USAGE = `  remote-builder cache list <account>
  remote-builder cache reset <account> [<volume>]
    the account's cache volumes; reset throws one away (default: buildkit) so the next build starts
    cold; takes --server and --token like setup`;
async function cacheCommand(args) {
  const { values, positionals } = parseArgs2({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      audience: { type: "string", default: "remote-builder" }
    }
  });
  const [verb, account, volume = "buildkit"] = positionals;
  if (!account || verb !== "list" && verb !== "reset") throw new Error(`say what to do.

${CACHE_USAGE}`);
  const server = serverUrl(values.server);
  const client = new ApiClient({
    serverUrl: server,
    auth: cliCredential(server, { ...values, account }),
    userAgent: "remote-builder-cli/1"
  });
  const result = verb === "list" ? await client.listCacheVolumes(account) : await client.resetCacheVolume(account, volume);
  if (verb === "reset") process.stderr.write(`Reset cache volume "${volume}": the next build starts cold.
`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}
`);
  return 0;
}

// service/cli/usage.ts
import { parseArgs as parseArgs3 } from "node:util";
var USAGE_USAGE = `  remote-builder usage <account> [--from ISO] [--to ISO]
    build minutes by shape, cache GiB-hours and costs (default: this month); authenticates with
    RB_TOKEN (the account's agent token) or else the admin token`;
async function usageCommand(args) {
  const { values, positionals } = parseArgs3({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      token: { type: "string" },
      "admin-token": { type: "string" }
    }
  });
  const [account] = positionals;
  if (!account) throw new Error(`name the account.

${USAGE_USAGE}`);
  const token = values.token ?? process.env.RB_TOKEN ?? adminToken(values["admin-token"]);
  const client = new ApiClient({ serverUrl: serverUrl(values.server), auth: staticToken(token) });
  const usage = await client.usage(account, {
    ...values.from ? { from: values.from } : {},
    ...values.to ? { to: values.to } : {}
  });
  process.stdout.write(`${JSON.stringify(usage, null, 2)}
`);
  return 0;
}

// service/cli/job-commands.ts
var JOB_USAGE = `${BUILDER_USAGE}
${USAGE_USAGE}
${CACHE_USAGE}`;
var JOB_COMMANDS = {
  setup: setupCommand,
  finish: finishCommand,
  status: statusCommand,
  cache: cacheCommand,
  usage: usageCommand,
  "keep-alive": () => keepAliveCommand()
};
function exitWith(run2) {
  run2.then(
    (code) => code,
    (err) => {
      process.stderr.write(`remote-builder: ${err.message}
`);
      return 1;
    }
  ).then((code) => {
    process.exitCode = code;
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  });
}

// service/cli/job-main.ts
var USAGE = `remote-builder \u2014 a warm, isolated BuildKit builder for this CI job

${JOB_USAGE}
`;
async function main([command, ...rest]) {
  const run2 = command ? JOB_COMMANDS[command] : void 0;
  if (run2) return run2(rest);
  if (command === void 0 || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === void 0 ? 2 : 0;
  }
  process.stderr.write(`remote-builder: there is no command "${command}".

${USAGE}`);
  return 2;
}
exitWith(main(process.argv.slice(2)));
