import { afterAll, describe, expect, it } from "@jest/globals";
import type { V1PersistentVolumeClaim, V1Pod, V1Secret } from "@kubernetes/client-node";
import { LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import { rng } from "../harness/kube/faults.js";
import { http } from "../harness/context.js";
import { dial, roundTrip } from "../broker/support.js";
import { createBuild, type LiveBuild, settle, until } from "../drivers/support.js";
import { type KubeRig, startKubeRig } from "./support.js";

/**
 * A soak test, run alone after the suite (`npm run test:soak`, part of `npm test`): its load
 * would slow every test beside it. Randomized build lifecycles through the service, with the API server failing, hanging and
 * losing answers to writes that took effect, and a node going away half-way. Afterwards the fleet
 * must converge: no orphan object, no leaked claim. LIFECYCLES and SEED override the defaults.
 */
const LIFECYCLES = Number(process.env.LIFECYCLES ?? 1000);
const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
const WORKERS = 8;

let rig: KubeRig | null = null;
afterAll(async () => {
  await rig?.close();
});

describe("randomized lifecycles with API server faults", () => {
  it(`${LIFECYCLES} builds leave no orphan object and no leaked claim (SEED=${SEED})`, async () => {
    rig = await startKubeRig({ nodes: ["node-a", "node-b", "node-c"] });
    const api = rig.api!;
    const r = rig;
    const service = await r.start("replica-1", {
      RB_WARM_POOL: '{"small":2,"medium":1}',
      RB_BUILDER_IDLE_TTL_SECONDS: "1",
      RB_CLAIM_LEASE_SECONDS: "3",
      RB_BOOT_TIMEOUT_SECONDS: "8",
    });
    const accounts = await Promise.all(
      Array.from({ length: 12 }, () => service.account({ plan: "team" } as never)),
    );
    const rnd = rng(SEED);
    api.faults.set({
      errorRate: 0.04,
      hangRate: 0.002,
      hangMs: 1_500,
      afterEffectRate: 0.03,
      seed: SEED,
    });

    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    let next = 0;
    let nodeLost = false;
    const worker = async () => {
      while (next < LIFECYCLES) {
        const n = next++;
        if (!nodeLost && n >= LIFECYCLES / 2) {
          nodeLost = true;
          await r.kubelet.removeNode(r.node("node-c"), "delete");
        }
        const account = accounts[Math.floor(rnd() * accounts.length)]!;
        const shape = rnd() < 0.8 ? "small" : "medium";
        let build: LiveBuild;
        try {
          build = await createBuild(service, account, {
            shape,
            cache: rnd() < 0.1 ? "cold" : "wait",
            waitSeconds: 5,
          });
        } catch (err) {
          count(`refused: ${String((err as Error).message).slice(0, 40)}`);
          continue;
        }
        // A queued build may wait, and a boot be retried, under faults.
        const settled = await settle(service, build, 60_000);
        count(`${settled.state}${settled.tier ? `/${settled.tier}` : ""}`);
        if (settled.state === "failed") count(`  ${String(settled.endReason).slice(0, 60)}`);
        if (settled.state !== "ready") continue;
        const ending = rnd();
        if (ending < 0.5) {
          const { socket, secure } = dial(service, {
            cert: build.certificate!,
            key: build.key.privateKeyPem,
          });
          try {
            await secure;
            await roundTrip(socket, "ping\n");
          } catch {
            count("echo failed");
          } finally {
            socket.destroy();
          }
        }
        // Most builds complete; some clients vanish, and the lease reaps their build.
        if (ending < 0.9) {
          await http(service.url, "POST", `/api/v1/builds/${build.id}/complete`, {
            token: build.token,
            body: { result: rnd() < 0.8 ? "success" : "failure" },
          });
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    const injected = { ...api.faults.injected };
    api.faults.clear();

    const claims = new RedisClaimStore(service.redis, new RedisKeys(service.config.redisPrefix));
    await until(
      "every build to end and the fleet to converge",
      async () => {
        const unfinished = await service.reconcilePass.run();
        if (unfinished.unfinished > 0) return null;
        const pods = await r.list<V1Pod>("pods");
        const names = new Set(pods.map((p) => p.metadata!.name!));
        const secrets = (await r.list<V1Secret>("secrets")).filter(
          (s) => s.metadata?.labels?.[LABELS.builder],
        );
        const claimsNow = await r.list<V1PersistentVolumeClaim>("persistentvolumeclaims");
        const usedClaims = new Set(
          pods.flatMap(
            (p) => p.spec?.volumes?.flatMap((v) => v.persistentVolumeClaim?.claimName ?? []) ?? [],
          ),
        );
        const live = new Set(
          (
            await service.pool.query("SELECT account_id, name FROM cache_volumes WHERE deleted_at IS NULL")
          ).rows.map((v: { account_id: string; name: string }) => `${v.account_id}/${v.name}`),
        );
        const problems = [
          ...pods
            .filter((p) => p.metadata!.labels![LABELS.role] !== "warm" || p.metadata!.deletionTimestamp)
            .map((p) => `pod ${p.metadata!.name} is ${p.metadata!.labels![LABELS.role]}`),
          ...secrets
            .filter((s) => !names.has(s.metadata!.labels![LABELS.builder]!))
            .map((s) => `secret ${s.metadata!.name} has no pod`),
          ...claimsNow
            .filter((c) => c.metadata!.labels![LABELS.role] === "warm" && !usedClaims.has(c.metadata!.name!))
            .map((c) => `warm claim ${c.metadata!.name} has no builder`),
          ...claimsNow
            .filter(
              (c) =>
                c.metadata!.labels![LABELS.role] === "account" &&
                !live.has(`${c.metadata!.labels![LABELS.account]}/${c.metadata!.labels![LABELS.volume]}`),
            )
            .map((c) => `claim ${c.metadata!.name} belongs to no live volume`),
        ];
        const warm = pods.filter((p) => p.metadata!.labels![LABELS.role] === "warm");
        if (warm.length !== 3) problems.push(`${warm.length} warm builders, not 3`);
        for (const scope of await claims.scopes()) {
          const holders = await claims.holders(scope, Date.now());
          if (holders.size > 0)
            problems.push(`claim ${JSON.stringify(scope)} held by ${[...holders.keys()]}`);
          const waiters = await claims.waiters(scope);
          if (waiters.length > 0) problems.push(`claim ${JSON.stringify(scope)} awaited by ${waiters}`);
        }
        lastProblems = problems;
        return problems.length === 0;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${lastProblems.join("\n")}`);
    });
    console.log(
      `lifecycles: ${LIFECYCLES} (SEED=${SEED}): ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}; ` +
        `faults injected: ${JSON.stringify(injected)}`,
    );
    expect(injected.error + injected.afterEffect).toBeGreaterThan(0);
    expect(outcomes.get("ready/idle") ?? 0).toBeGreaterThan(0);
    expect(outcomes.get("ready/warm") ?? 0).toBeGreaterThan(0);
    expect(outcomes.get("ready/cold") ?? 0).toBeGreaterThan(0);
  }, 600_000);
});

let lastProblems: string[] = [];
