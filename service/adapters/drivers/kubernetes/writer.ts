import { isDeepStrictEqual } from "node:util";
import type {
  KubernetesObject,
  V1NetworkPolicy,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
} from "@kubernetes/client-node";
import type { BuilderSpec } from "../../../core/ports.js";
import { inPool, viewBuilderPod } from "./builder-pod.js";
import { type Cluster, MERGE_PATCH } from "./cluster.js";
import { ANNOTATIONS, LABELS, MANAGED } from "./labels.js";
import { builderSecretName } from "./objects.js";
import { kube, type RetryOptions } from "./retry.js";

type Kind = "pod" | "secret" | "persistentvolumeclaim";

/**
 * Every write the driver makes, each idempotent and retried: creates treat 409 as done (the
 * names are the driver's), deletes treat 404 as done, and taking a pool builder is a
 * compare-and-set on its resourceVersion.
 */
export class ClusterWriter {
  constructor(
    private readonly c: Cluster,
    private readonly namespace: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private kube<T>(what: string, call: () => Promise<T>, o: RetryOptions = {}): Promise<T | null> {
    return kube(what, call, { timeoutMs: this.timeoutMs, ...o });
  }

  async ensure(kind: Kind, body: KubernetesObject): Promise<void> {
    const namespace = this.namespace;
    await this.kube<unknown>(
      `create ${kind} ${body.metadata?.name}`,
      () => {
        if (kind === "pod") return this.c.core.createNamespacedPod({ namespace, body: body as V1Pod });
        if (kind === "secret")
          return this.c.core.createNamespacedSecret({ namespace, body: body as V1Secret });
        return this.c.core.createNamespacedPersistentVolumeClaim({
          namespace,
          body: body as V1PersistentVolumeClaim,
        });
      },
      { ignore: [409] },
    );
  }

  async ensureNetworkPolicy(body: V1NetworkPolicy): Promise<void> {
    const namespace = this.namespace;
    const name = body.metadata!.name!;
    const current = await this.kube(
      `read networkpolicy ${name}`,
      () => this.c.networking.readNamespacedNetworkPolicy({ name, namespace }),
      { ignore: [404] },
    );
    if (!current) {
      await this.kube(
        `create networkpolicy ${name}`,
        () => this.c.networking.createNamespacedNetworkPolicy({ namespace, body }),
        { ignore: [409] },
      );
      return;
    }
    // Kept as configured: a policy edited by hand (or by an older version) is put back. Compared
    // as plain data: the client's models read back with their own key order, so comparing JSON
    // strings saw a change on every pass and rewrote the policy each time.
    if (!isDeepStrictEqual(plain(current.spec), plain(body.spec))) {
      await this.kube(
        `replace networkpolicy ${name}`,
        () =>
          this.c.networking.replaceNamespacedNetworkPolicy({
            name,
            namespace,
            body: {
              ...body,
              metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion },
            },
          }),
        { ignore: [409] },
      );
    }
  }

  readPod(name: string): Promise<V1Pod | null> {
    return this.kube(
      `read pod ${name}`,
      () => this.c.core.readNamespacedPod({ name, namespace: this.namespace }),
      {
        ignore: [404],
      },
    );
  }

  /**
   * Creates a pod whose name says what it is for, unless one of that name exists: false then. The
   * only create that is a condition: a pre-warmed builder's name is a function of its volume, so
   * that two replicas pre-warming one volume at once start one pod (the other gets 409).
   */
  async createPod(body: V1Pod): Promise<boolean> {
    const made = await this.kube(
      `create pod ${body.metadata?.name}`,
      () => this.c.core.createNamespacedPod({ namespace: this.namespace, body }),
      { ignore: [409] },
    );
    return made !== null;
  }

  /**
   * Takes a pool builder (warm or idle) for a build, only if it is still what was seen: the
   * patch carries the resourceVersion. Returns the builder's id (and when it was pre-warmed, if it
   * was: the patch clears that, so after this build it idles as any other), or null if another
   * build took it.
   */
  async assign(
    pod: V1Pod,
    spec: BuilderSpec,
    tier: "idle" | "warm",
    now: number,
  ): Promise<{ builderId: string; prewarmedAt: number | undefined } | null> {
    const name = pod.metadata!.name!;
    let seen: V1Pod | null = pod;
    for (let attempt = 0; attempt < 3 && seen; attempt++) {
      const builder = viewBuilderPod(seen);
      // Ours already (an answer lost): the pre-warm annotations it had are gone with it.
      if (builder.buildId === spec.buildId) return { builderId: name, prewarmedAt: undefined };
      if (!inPool(builder)) return null;
      const patched = await this.relabel(name, `assign pod ${name}`, {
        resourceVersion: seen.metadata!.resourceVersion,
        labels: {
          [LABELS.role]: "serving",
          [LABELS.build]: spec.buildId,
          [LABELS.account]: spec.accountId,
          ...(spec.volume && builder.role === "warm" ? { [LABELS.volume]: spec.volume.name } : {}),
        },
        annotations: {
          [ANNOTATIONS.assignedAt]: String(now),
          [ANNOTATIONS.placedAs]: tier,
          [ANNOTATIONS.idleSince]: null,
          [ANNOTATIONS.prewarmedAt]: null,
          [ANNOTATIONS.prewarmExpiresAt]: null,
        },
      });
      if (patched) return { builderId: name, prewarmedAt: builder.prewarmedAt };
      // A status update (or another replica) moved it on: look again.
      seen = await this.readPod(name);
    }
    return null;
  }

  /** A warm builder's fresh volume becomes the account's. */
  async adoptClaim(pod: V1Pod, accountId: string, volume: string): Promise<void> {
    const claim = viewBuilderPod(pod).cacheClaim;
    if (!claim) return;
    await this.kube(
      `adopt claim ${claim}`,
      () =>
        this.c.core.patchNamespacedPersistentVolumeClaim(
          {
            name: claim,
            namespace: this.namespace,
            body: {
              metadata: {
                labels: { [LABELS.role]: "account", [LABELS.account]: accountId, [LABELS.volume]: volume },
              },
            },
          },
          MERGE_PATCH,
        ),
      { ignore: [404] },
    );
  }

  /**
   * An idle builder stays up until at least `until` (a job's build is coming), only while it is
   * still idle: the patch carries the resourceVersion, and a conflict (a status update, say) is
   * looked at again. False when a build took it or it is gone.
   */
  async keepUp(pod: V1Pod, until: number): Promise<boolean> {
    const name = pod.metadata!.name!;
    let seen: V1Pod | null = pod;
    for (let attempt = 0; attempt < 3 && seen; attempt++) {
      const builder = viewBuilderPod(seen);
      if (builder.role !== "idle" || builder.deleting) return false;
      if ((builder.prewarmExpiresAt ?? 0) >= until) return true;
      const patched = await this.relabel(name, `keep up pod ${name}`, {
        resourceVersion: seen.metadata!.resourceVersion,
        labels: {},
        annotations: { [ANNOTATIONS.prewarmExpiresAt]: String(until) },
      });
      if (patched) return true;
      seen = await this.readPod(name);
    }
    return false;
  }

  /** A serving builder becomes its account's idle one, if it is still the version seen. */
  async release(pod: V1Pod, now: number): Promise<boolean> {
    const name = pod.metadata!.name!;
    const patched = await this.relabel(name, `release pod ${name}`, {
      resourceVersion: pod.metadata!.resourceVersion,
      labels: { [LABELS.role]: "idle", [LABELS.build]: null },
      annotations: {
        [ANNOTATIONS.idleSince]: String(now),
        [ANNOTATIONS.assignedAt]: null,
        [ANNOTATIONS.placedAs]: null,
      },
    });
    return patched !== null;
  }

  /**
   * A merge patch of a pod's labels and annotations (null removes one); with a resourceVersion,
   * only if the pod is still that version. Null when it is gone or has moved on.
   */
  private relabel(
    name: string,
    what: string,
    metadata: {
      resourceVersion?: string | undefined;
      labels: Record<string, string | null>;
      annotations: Record<string, string | null>;
    },
  ): Promise<V1Pod | null> {
    return this.kube(
      what,
      () =>
        this.c.core.patchNamespacedPod({ name, namespace: this.namespace, body: { metadata } }, MERGE_PATCH),
      { ignore: [409, 404] },
    );
  }

  /**
   * Deletes a builder and its Secret. With `seen`, only if the pod is still that version: a pool
   * builder a build took meanwhile (its labels changed) is not reaped from under the build.
   * Returns false when it was left alone.
   */
  async deleteBuilder(builderId: string, o: { force?: boolean; seen?: V1Pod } = {}): Promise<boolean> {
    const namespace = this.namespace;
    const resourceVersion = o.seen?.metadata?.resourceVersion;
    let conflict = false;
    await this.kube(
      `delete pod ${builderId}`,
      async () => {
        try {
          return await this.c.core.deleteNamespacedPod({
            name: builderId,
            namespace,
            ...(o.force ? { gracePeriodSeconds: 0 } : {}),
            ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
          });
        } catch (err) {
          if ((err as { code?: number }).code === 409) conflict = true;
          throw err;
        }
      },
      { ignore: [404, 409] },
    );
    if (conflict) return false;
    await this.deleteSecret(builderSecretName(builderId));
    return true;
  }

  async deleteSecret(name: string): Promise<void> {
    await this.kube(
      `delete secret ${name}`,
      () => this.c.core.deleteNamespacedSecret({ name, namespace: this.namespace }),
      {
        ignore: [404],
      },
    );
  }

  async deleteClaim(name: string): Promise<void> {
    await this.kube(
      `delete claim ${name}`,
      () => this.c.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: this.namespace }),
      { ignore: [404] },
    );
  }

  async deleteVolume(name: string): Promise<void> {
    await this.kube(`delete volume ${name}`, () => this.c.core.deletePersistentVolume({ name }), {
      ignore: [404],
    });
  }

  /** Read from the API server, not a cache: a reset must find a claim made a moment ago. */
  async accountClaims(accountId: string, volume: string): Promise<V1PersistentVolumeClaim[]> {
    const list = await this.kube("list claims", () =>
      this.c.core.listNamespacedPersistentVolumeClaim({
        namespace: this.namespace,
        labelSelector: `${MANAGED},${LABELS.account}=${accountId},${LABELS.volume}=${volume}`,
      }),
    );
    return list?.items ?? [];
  }

  /** Read from the API server, not a cache: the builder pods on an account's volume right now. */
  async volumePods(accountId: string, volume: string): Promise<V1Pod[]> {
    const list = await this.kube("list pods", () =>
      this.c.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: `${MANAGED},${LABELS.account}=${accountId},${LABELS.volume}=${volume}`,
      }),
    );
    return list?.items ?? [];
  }

  async secrets(): Promise<V1Secret[]> {
    const list = await this.kube("list secrets", () =>
      this.c.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: MANAGED }),
    );
    return list?.items ?? [];
  }

  async nodes(): Promise<V1Node[]> {
    return (await this.kube("list nodes", () => this.c.core.listNode()))?.items ?? [];
  }

  async persistentVolumes(): Promise<V1PersistentVolume[]> {
    return (await this.kube("list volumes", () => this.c.core.listPersistentVolume()))?.items ?? [];
  }
}

/**
 * An object as data, the way the API server keeps it: no class prototypes, no undefined fields,
 * and no empty lists (the API omits them, so `except: []` sent comes back absent).
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(plain);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value)
    .map(([key, v]) => [key, plain(v)] as const)
    .filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries);
}
