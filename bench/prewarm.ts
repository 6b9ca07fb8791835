/**
 * Pre-warm, measured: `npm run bench:prewarm`.
 *
 * The service in this process with the local driver and upstream buildkitd v0.11.6
 * (../shared/tools/buildkit), its own Redis and PostgreSQL; a GitHub OIDC issuer on loopback; one
 * account trusting the repository, with a GitHub hook installation. Two builds of the workflow
 * give the account its history. Then BENCH_ROUNDS (5) rounds, each after the account's idle
 * builder has gone (its TTL is 1 s here), each a build admitted with a fresh credential and
 * long-polled until ready, timed from POST to ready as the client sees it:
 *
 * - cold: no hook. The account's builder starts on its volume when the build is admitted (the
 *   baseline: what a returning account gets today once its idle builder expired);
 * - prewarm: the signed `workflow_job` queued delivery, then the build BENCH_LEAD_MS (3000) later;
 *   the fleet simulation's assumed lead time is far longer (median 40 s), so the builder is up;
 * - prewarm, no lead: the delivery and at once the build, which takes the builder still booting.
 *
 * Each build's tier is checked (cold, then idle and pre-warmed twice); a round that got another is
 * an error, not a sample.
 *
 * RESULT ready_cold_p50_ms=… ready_prewarm_p50_ms=… ready_prewarm_nolead_p50_ms=… speedup=<cold/prewarm p50>
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { loadConfig } from "../service/config.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { startService } from "../service/server.js";
import { findBuildkitTools } from "../test/harness/buildkit-tools.js";
import { githubSignature, hookKey, workflowJobBody } from "../test/hooks/support.js";
import { githubClaims, oidcEnv, TestIssuer } from "../test/oidc/fixtures.js";
import { benchAccount, call, percentile } from "./support.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LEAD_MS = Number(process.env.BENCH_LEAD_MS ?? 3000);
const ADMIN = "bench-admin-token-0123456789abcdef0123456789";
const OWNER = 9001;
const REPOSITORY = 9002;
/** The idle TTL: a second, so every round starts with the account's builder gone. */
const IDLE_TTL_S = 1;
const log = (line: string) => process.stdout.write(`${line}\n`);

type Kind = "cold" | "prewarm" | "prewarmNoLead";

async function main(): Promise<void> {
  const { tools, skip } = findBuildkitTools();
  if (!tools) throw new Error(`no real BuildKit: ${skip}`);
  const root = mkdtempSync(join(tmpdir(), "rb-bench-prewarm-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root
  const [redis, postgres, issuer] = await Promise.all([
    startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
    startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
    TestIssuer.start(),
  ]);
  try {
    const config = loadConfig({
      ...oidcEnv([{ name: "github", kind: "github", issuer }], null),
      PATH: `${process.env.PATH}:/usr/sbin:/sbin`,
      RB_DATABASE_URL: await postgres.createDatabase("bench"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN,
      RB_PORT: "0",
      RB_BROKER_PORT: "0",
      RB_DRIVER: "local",
      RB_LOCAL_DIR: join(root, "local"),
      RB_BUILDKITD: tools.buildkitd,
      RB_BUILDER_IDLE_TTL_SECONDS: String(IDLE_TTL_S),
      RB_HOOK_SECRET_KEY: hookKey(),
      RB_LOG_LEVEL: "error",
    });
    const service = await startService(config, { logger: pino({ level: "error" }) });
    try {
      log(`machine: ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}; buildkitd ${tools.buildkitd}`);
      await benchAccount(service.url, ADMIN);
      await call(service.url, "POST", "/api/v1/admin/accounts/bench/trust", ADMIN, {
        issuer: "github",
        ownerId: String(OWNER),
        repositoryId: String(REPOSITORY),
      });
      const hook = await call(service.url, "POST", "/api/v1/admin/hooks", ADMIN, {
        provider: "github",
        ownerId: String(OWNER),
      });
      const secret = hook.secret as string;
      let runs = 0;

      /** A build of the workflow with a fresh credential: ms from POST to ready, and its tier. */
      async function build(): Promise<{ ms: number; tier: string; prewarmed: boolean }> {
        const token = await issuer.token(
          githubClaims({
            repository_owner_id: String(OWNER),
            repository_id: String(REPOSITORY),
            run_id: String(++runs),
          }),
        );
        const { credential } = (await call(service.url, "POST", "/api/v1/auth/oidc", "", { token })) as {
          credential: string;
        };
        const started = performance.now();
        const created = await call(service.url, "POST", "/api/v1/builds", credential, {
          cache: "wait",
          waitSeconds: 60,
        });
        let view = created;
        while (view.state !== "ready") {
          if (["completed", "failed", "expired", "reaped"].includes(view.state as string)) {
            throw new Error(`build ${created.id as string} ended: ${JSON.stringify(view)}`);
          }
          view = await call(service.url, "GET", `/api/v1/builds/${created.id as string}?wait=30`, credential);
        }
        const ms = performance.now() - started;
        await call(service.url, "POST", `/api/v1/builds/${created.id as string}/complete`, credential, {
          result: "success",
        });
        await service.background.drain();
        return { ms, tier: view.tier as string, prewarmed: view.prewarmed as boolean };
      }

      /** GitHub's signed queued delivery for the workflow's job. */
      async function deliverQueued(): Promise<string> {
        const body = JSON.stringify(workflowJobBody(OWNER, REPOSITORY));
        const response = await fetch(`${service.url}/api/v1/hooks/github`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "workflow_job",
            "x-github-delivery": crypto.randomUUID(),
            "x-hub-signature-256": githubSignature(secret, body),
          },
          body,
        });
        const answer = (await response.json()) as { prewarm?: string };
        if (response.status !== 200)
          throw new Error(`delivery: ${response.status} ${JSON.stringify(answer)}`);
        return answer.prewarm ?? "";
      }

      // The account's history: two builds of the workflow on its volume.
      await build();
      await build();

      const samples: Record<Kind, number[]> = { cold: [], prewarm: [], prewarmNoLead: [] };
      const expect = (kind: Kind, got: { tier: string; prewarmed: boolean }) => {
        const want = kind === "cold" ? { tier: "cold", prewarmed: false } : { tier: "idle", prewarmed: true };
        if (got.tier !== want.tier || got.prewarmed !== want.prewarmed) {
          throw new Error(`a ${kind} round got tier ${got.tier}, prewarmed ${got.prewarmed}`);
        }
      };
      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of ["cold", "prewarm", "prewarmNoLead"] as const) {
          // The idle builder of the last round goes (TTL, then the pool's 1 s pass).
          await sleep(IDLE_TTL_S * 1000 + 2_000);
          if (kind !== "cold") {
            const answer = await deliverQueued();
            if (answer !== "started") throw new Error(`a ${kind} round's delivery started nothing`);
            if (kind === "prewarm") await sleep(LEAD_MS);
          }
          const result = await build();
          expect(kind, result);
          samples[kind].push(result.ms);
          log(
            `round ${round + 1} ${kind}: ready in ${result.ms.toFixed(0)} ms (${result.tier}${result.prewarmed ? ", prewarmed" : ""})`,
          );
        }
      }
      const p50 = (kind: Kind) => percentile(samples[kind], 50);
      for (const kind of ["cold", "prewarm", "prewarmNoLead"] as const) {
        const all = samples[kind];
        log(
          `${kind}: p50 ${p50(kind).toFixed(0)} ms, min ${Math.min(...all).toFixed(0)}, max ${Math.max(...all).toFixed(0)}`,
        );
      }
      log(
        `RESULT ready_cold_p50_ms=${p50("cold").toFixed(0)} ready_prewarm_p50_ms=${p50("prewarm").toFixed(0)} ` +
          `ready_prewarm_nolead_p50_ms=${p50("prewarmNoLead").toFixed(0)} speedup=${(p50("cold") / p50("prewarm")).toFixed(1)}`,
      );
    } finally {
      await service.stop();
    }
  } finally {
    await Promise.all([redis.stop(), postgres.stop(), issuer.stop()]);
    removeTree(root);
  }
}

/**
 * Removes the bench's folder. buildkitd v0.11 leaves its CNI pool's network namespaces mounted in
 * the volume folder (`net/cni/…`) when it stops: unmounted first, or the folder cannot go.
 */
function removeTree(root: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((path) => path.startsWith(`${root}/`));
  for (const path of mounts.reverse()) {
    try {
      execFileSync("umount", [path], { stdio: "ignore" });
    } catch {
      // Not ours to unmount (no privilege): the rm below says what is left.
    }
  }
  rmSync(root, { recursive: true, force: true });
}

await main();
