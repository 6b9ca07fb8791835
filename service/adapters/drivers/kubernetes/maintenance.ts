import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { idleExpired, nodeLost, type WarmRetries } from "../../../core/fleet-policy.js";
import type { Volume } from "../../../core/ledger.js";
import { warmDeficit } from "../../../core/placement.js";
import type { FleetReport, PlacedVolume } from "../../../core/ports.js";
import type { KubernetesDriverOptions } from "./driver.js";
import { ANNOTATIONS, LABELS } from "./labels.js";
import { builderNetworkPolicy } from "./objects.js";
import { created, podFailure, podReady, roleOf } from "./pod-status.js";
import type { ClusterWriter } from "./writer.js";

const HOSTNAME = "kubernetes.io/hostname";

export interface MaintenanceContext {
  driver: KubernetesDriverOptions;
  writer: ClusterWriter;
  pods: readonly V1Pod[];
  claims: readonly V1PersistentVolumeClaim[];
  live: Volume[];
  /** When each node was first seen missing, kept across passes by the leader. */
  missingSince: Map<string, number>;
  startWarm(shapeName: string): Promise<string>;
  /** Per shape, kept across passes: warm pods that failed to start hold off the next. */
  warmRetries: WarmRetries;
  /** A warm pod failed to start; `why` in Kubernetes' and buildkitd's words. */
  warmFailed(shapeName: string, why: string, retry: { count: number; delayMs: number }): void;
}

/**
 * One leader pass over the fleet. Level-triggered: it compares what is in the cluster with what
 * should be and closes the gap, so a pass that fails half-way is finished by the next one.
 */
export async function maintainFleet(c: MaintenanceContext): Promise<FleetReport> {
  const { driver: o, writer } = c;
  const now = o.clock.now();
  await writer.ensureNetworkPolicy(
    builderNetworkPolicy(o.settings, {
      serviceNamespace: o.serviceNamespace,
      brokerLabels: o.brokerLabels,
      blockedCidrs: o.blockedCidrs,
    }),
  );
  const [nodes, volumes] = await Promise.all([writer.nodes(), writer.persistentVolumes()]);
  const nodeOf = claimNodes(volumes);
  const lostNodes = findLostNodes(nodes, [...nodeOf.values()], c.missingSince, now, o.nodeGraceMs);
  const users = claimUsers(c.pods);
  const lost: FleetReport["lost"] = [];
  const gone = new Set<string>();

  for (const claim of c.claims) {
    const name = claim.metadata!.name!;
    const node = nodeOf.get(`${claim.metadata?.namespace}/${name}`);
    if (!node || !lostNodes.has(node)) continue;
    // Its data went with the node: the pods on it cannot stop cleanly, so they are removed at once.
    for (const pod of users.get(name) ?? []) await writer.deleteBuilder(pod.metadata!.name!, { force: true });
    await writer.deleteClaim(name);
    if (claim.spec?.volumeName) await writer.deleteVolume(claim.spec.volumeName);
    gone.add(name);
    const labels = claim.metadata?.labels ?? {};
    const [accountId, volume] = [labels[LABELS.account], labels[LABELS.volume]];
    if (labels[LABELS.role] === "account" && accountId && volume) {
      lost.push({ accountId, name: volume, reason: `node gone (${node})` });
    }
  }

  const alive: V1Pod[] = [];
  for (const pod of c.pods) {
    const name = pod.metadata!.name!;
    const role = roleOf(pod);
    if (pod.metadata?.deletionTimestamp || usesClaimIn(pod, gone)) continue;
    const idleSince = Number(pod.metadata?.annotations?.[ANNOTATIONS.idleSince] ?? now);
    const expired = role === "idle" && idleExpired(idleSince, now, o.idleTtlMs);
    const failure = podFailure(pod);
    const shape = pod.metadata?.labels?.[LABELS.shape] ?? "";
    // A serving builder's end is its build's; the core terminates it.
    if ((role === "warm" || role === "idle") && (expired || failure)) {
      // Only the version seen: a build may have taken it since the cache was read.
      if (await writer.deleteBuilder(name, { seen: pod })) {
        if (role === "warm" && failure) c.warmFailed(shape, failure, c.warmRetries.failed(shape, now));
        continue;
      }
    }
    if (role === "warm" && podReady(pod)) c.warmRetries.succeeded(shape);
    alive.push(pod);
  }

  // A warm builder whose adoption was cut short: its volume is the account's all the same.
  for (const pod of alive) {
    const labels = pod.metadata?.labels ?? {};
    const [accountId, volume] = [labels[LABELS.account], labels[LABELS.volume]];
    const claim = c.claims.find((x) => x.metadata?.name === cacheClaim(pod));
    if (
      roleOf(pod) === "serving" &&
      accountId &&
      volume &&
      claim?.metadata?.labels?.[LABELS.role] === "warm"
    ) {
      await writer.adoptClaim(pod, accountId, volume);
    }
  }

  const warm: Record<string, number> = {};
  for (const pod of alive) {
    if (roleOf(pod) === "warm") {
      const shape = pod.metadata!.labels![LABELS.shape]!;
      warm[shape] = (warm[shape] ?? 0) + 1;
    }
  }
  for (const { shape, missing } of warmDeficit(o.warmPool, warm)) {
    if (!c.warmRetries.mayStart(shape, now)) continue;
    for (let i = 0; i < missing; i++) await c.startWarm(shape);
  }

  const liveKeys = new Set(c.live.map((v) => `${v.accountId}/${v.name}`));
  const inUse = new Set(c.pods.flatMap((p) => cacheClaim(p) ?? []));
  const placed: PlacedVolume[] = [];
  for (const claim of c.claims) {
    const name = claim.metadata!.name!;
    if (gone.has(name) || claim.metadata?.deletionTimestamp) continue;
    const labels = claim.metadata?.labels ?? {};
    const young = now - created(claim) < o.creationGraceMs;
    const key = `${labels[LABELS.account]}/${labels[LABELS.volume]}`;
    if (labels[LABELS.role] === "warm" && !inUse.has(name) && !young) {
      await writer.deleteClaim(name);
    } else if (labels[LABELS.role] === "account" && !liveKeys.has(key) && !young) {
      // The service forgot the volume (reset, evicted, account gone): nothing may keep its data.
      for (const pod of users.get(name) ?? []) {
        if (roleOf(pod) !== "serving") await writer.deleteBuilder(pod.metadata!.name!, { seen: pod });
      }
      if (!(users.get(name) ?? []).some((p) => roleOf(p) === "serving")) await writer.deleteClaim(name);
    } else if (labels[LABELS.role] === "account") {
      placed.push({
        accountId: labels[LABELS.account]!,
        name: labels[LABELS.volume]!,
        node: nodeOf.get(`${claim.metadata?.namespace}/${name}`) ?? null,
        sizeGiB: gibOf(claim.spec?.resources?.requests?.storage),
        busy: (users.get(name) ?? []).some((p) => roleOf(p) === "serving"),
      });
    }
  }

  const builders = new Set(c.pods.map((p) => p.metadata!.name!));
  for (const secret of await writer.secrets()) {
    const builder = secret.metadata?.labels?.[LABELS.builder];
    if (builder && !builders.has(builder) && now - created(secret) >= o.creationGraceMs) {
      await writer.deleteSecret(secret.metadata!.name!);
    }
  }
  return { lost, placed };
}

function cacheClaim(pod: V1Pod): string | undefined {
  return pod.spec?.volumes?.find((v) => v.name === "cache")?.persistentVolumeClaim?.claimName;
}

function usesClaimIn(pod: V1Pod, claims: Set<string>): boolean {
  const claim = cacheClaim(pod);
  return claim !== undefined && claims.has(claim);
}

function claimUsers(pods: readonly V1Pod[]): Map<string, V1Pod[]> {
  const users = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    const claim = cacheClaim(pod);
    if (claim) users.set(claim, [...(users.get(claim) ?? []), pod]);
  }
  return users;
}

/** namespace/claim → the node its local volume lives on (from the PV's node affinity). */
function claimNodes(volumes: V1PersistentVolume[]): Map<string, string> {
  const nodes = new Map<string, string>();
  for (const pv of volumes) {
    const ref = pv.spec?.claimRef;
    const node = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms
      ?.flatMap((t) => t.matchExpressions ?? [])
      .find((e) => e.key === HOSTNAME && e.operator === "In")?.values?.[0];
    if (ref?.name && node) nodes.set(`${ref.namespace}/${ref.name}`, node);
  }
  return nodes;
}

function findLostNodes(
  nodes: V1Node[],
  holding: string[],
  missingSince: Map<string, number>,
  now: number,
  graceMs: number,
): Set<string> {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  const lost = new Set<string>();
  for (const name of new Set(holding)) {
    const node = byName.get(name);
    if (node) missingSince.delete(name);
    else if (!missingSince.has(name)) missingSince.set(name, now);
    const ready = node?.status?.conditions?.find((c) => c.type === "Ready");
    const health = {
      exists: node !== undefined,
      ready: ready?.status === "True",
      downSince: node
        ? ready?.lastTransitionTime
          ? new Date(ready.lastTransitionTime).getTime()
          : null
        : (missingSince.get(name) ?? now),
    };
    if (nodeLost(health, now, graceMs)) lost.add(name);
  }
  return lost;
}

const UNITS: Record<string, number> = {
  Ki: 2 ** -20,
  Mi: 2 ** -10,
  Gi: 1,
  Ti: 1024,
  G: 1e9 / 2 ** 30,
  M: 1e6 / 2 ** 30,
};

/** A quantity such as "50Gi" in GiB. */
export function gibOf(quantity: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?)?$/.exec(quantity ?? "");
  if (!m) return 0;
  return Number(m[1]) * (m[2] ? (UNITS[m[2]] ?? 1) : 2 ** -30);
}
