import {
  CoordinationV1Api,
  CoreV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  StorageV1Api,
  type V1Node,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StorageClass,
  type V1Taint,
} from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import {
  exitedStatus,
  iso,
  nodeConditions,
  nodeObject,
  pendingStatus,
  podCondition,
  runningStatus,
} from "./kubelet-objects.js";
import { choose, tolerates } from "./scheduler.js";
import { VolumeControllers } from "./volumes.js";

/**
 * A fake kubelet for a set of nodes, plus the control-plane parts a bare apiserver lacks
 * (scheduler, PV binder and local-volume provisioner, pvc/pv-protection, pod GC, node lifecycle).
 * It is an ordinary API client (client-node informers and REST calls, nothing of the fake's
 * internals), so it works the same against the fake and against a real kube-apiserver with no
 * kube-controller-manager or kube-scheduler of its own. Pods do not run anything: `onPodRunning`
 * decides what "running" means (e.g. start a TLS server on a loopback address) and reports the IP.
 */
export interface FakeNodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
  /** status.allocatable.pods; default 110. */
  podCapacity?: number;
}

export interface FakeKubeletOptions {
  kubeconfig: KubeConfig;
  nodes: FakeNodeSpec[];
  /** Called when a pod's containers would start; returns the pod IP. Throwing makes it fail. */
  onPodRunning?: (pod: V1Pod) => Promise<{ podIP: string } | void>;
  /** Called when a pod that was running stops (deleted, crashed, or its node went away). */
  onPodStopped?: (pod: V1Pod) => Promise<void> | void;
  /** Time between binding and "containers started"; default 0. */
  bootDelayMs?: number;
  /** Node status and lease renewal interval; default 1000 ms. */
  heartbeatMs?: number;
  /** Backoff before restarting a crashed container (restartPolicy Always/OnFailure); default 1000 ms. */
  restartBackoffMs?: number;
  /** Where local PVs "live" (spec.local.path prefix); default /mnt/fake-local. */
  localVolumeRoot?: string;
}

export interface FakeKubelet {
  /** Names of the nodes this kubelet runs and that are Ready. */
  readyNodes(): string[];
  addNode(node: FakeNodeSpec): Promise<void>;
  /**
   * "notready": the kubelet stops heartbeating and the node goes Ready=Unknown with the unreachable
   * taints (what the node lifecycle controller does after a lost heartbeat); its pods stay, with
   * Ready=False. "delete": the Node object is deleted and pod GC force-deletes its pods. Either way
   * the pods stop running (`onPodStopped`).
   */
  removeNode(name: string, how: "delete" | "notready"): Promise<void>;
  /** The pod's container exits (code 137 unless told): Failed for restartPolicy Never, else CrashLoopBackOff then a restart. */
  crashPod(name: string, namespace?: string, opts?: { exitCode?: number; message?: string }): Promise<void>;
  /** Unexpected errors of the background loops (conflicts, 404s and 5xx are normal and not kept). */
  readonly errors: unknown[];
  stop(): Promise<void>;
}

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;
export const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

interface NodeState {
  spec: FakeNodeSpec;
  index: number;
  state: "ready" | "notready" | "deleted";
}

interface PodRun {
  node: string;
  /** The hook reported the containers started, and they have not stopped since. */
  running: boolean;
  busy: boolean;
  restarts: number;
  ip?: string;
  lost?: boolean;
}

/** Expected outcomes of racing a stale cache, and injected faults: retried by the next pass. */
export function isTransient(err: unknown): boolean {
  const code =
    (err as { code?: number; statusCode?: number }).code ?? (err as { statusCode?: number }).statusCode;
  return code === 404 || code === 409 || code === 429 || (typeof code === "number" && code >= 500);
}

export async function startFakeKubelet(opts: FakeKubeletOptions): Promise<FakeKubelet> {
  const kc = opts.kubeconfig;
  const core = kc.makeApiClient(CoreV1Api);
  const storage = kc.makeApiClient(StorageV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const errors: unknown[] = [];
  const nodes = new Map<string, NodeState>();
  const runs = new Map<string, PodRun>();
  const tasks = new Set<Promise<unknown>>();
  let stopped = false;
  let nextIndex = 0;
  let ipCounter = 0;

  const note = (err: unknown) => {
    if (!stopped && !isTransient(err)) errors.push(err);
  };
  const spawn = (fn: () => Promise<unknown>) => {
    const p = fn().catch(note);
    tasks.add(p);
    void p.finally(() => tasks.delete(p)); // p cannot reject: note took its error
  };

  function informer<T extends KubernetesObject>(path: string, list: () => Promise<{ items: T[] }>): Cache<T> {
    const inf = makeInformer<T>(kc, path, list as never);
    inf.on("change", () => kick());
    // client-node's ListWatch stops on a failed list or watch; a controller restarts it.
    inf.on("error", () => {
      if (!stopped) setTimeout(() => !stopped && void inf.start().catch(note), 300);
    });
    return inf;
  }
  const pods = informer<V1Pod>("/api/v1/pods", () => core.listPodForAllNamespaces());
  const nodeCache = informer<V1Node>("/api/v1/nodes", () => core.listNode());
  const pvcs = informer<V1PersistentVolumeClaim>("/api/v1/persistentvolumeclaims", () =>
    core.listPersistentVolumeClaimForAllNamespaces(),
  );
  const pvs = informer<V1PersistentVolume>("/api/v1/persistentvolumes", () => core.listPersistentVolume());
  const classes = informer<V1StorageClass>("/apis/storage.k8s.io/v1/storageclasses", () =>
    storage.listStorageClass(),
  );
  const caches = [pods, nodeCache, pvcs, pvs, classes];
  const volumes = new VolumeControllers({
    core,
    pods,
    pvcs,
    pvs,
    classes,
    localRoot: opts.localVolumeRoot ?? "/mnt/fake-local",
    readyNodes: () => readyNodes(),
  });

  // ---- nodes ----------------------------------------------------------------------------------
  const hostIP = (n: NodeState) => `10.89.0.${n.index + 1}`;
  async function register(n: NodeState): Promise<void> {
    const body = nodeObject(n.spec, hostIP(n));
    try {
      const created = await core.createNode({ body });
      // A real apiserver's TaintNodesByCondition admission taints a new node not-ready; the node
      // lifecycle controller (absent there) lifts it once the node reports Ready, as here.
      const taints = created.spec?.taints ?? [];
      if (taints.some((t) => t.key === "node.kubernetes.io/not-ready")) {
        await core.patchNode({ name: n.spec.name, body: { spec: { taints: n.spec.taints ?? null } } }, merge);
      }
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      // Re-registration of a known node: take it back (labels, taints, status) as a restarted kubelet does.
      await core.patchNode(
        {
          name: n.spec.name,
          body: { metadata: { labels: body.metadata?.labels }, spec: { taints: n.spec.taints ?? null } },
        },
        merge,
      );
      await core.patchNodeStatus({ name: n.spec.name, body: { status: body.status } }, merge);
    }
    await renewLease(n.spec.name);
  }

  async function renewLease(name: string): Promise<void> {
    // MicroTime: a real apiserver refuses a renewTime without six fractional digits.
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new V1MicroTime() };
    try {
      await coordination.patchNamespacedLease(
        {
          namespace: "kube-node-lease",
          name,
          body: { spec: { ...spec, renewTime: new V1MicroTime().toISOString() } },
        },
        merge,
      );
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await coordination.createNamespacedLease({
        namespace: "kube-node-lease",
        body: { metadata: { name }, spec },
      });
    }
  }

  async function heartbeat(n: NodeState): Promise<void> {
    const name = n.spec.name;
    const current = nodeCache.get(name);
    const now = iso();
    const transition = (type: string) => {
      const c = current?.status?.conditions?.find((x) => x.type === type);
      const wanted = type === "Ready" ? "True" : "False";
      return c && c.status === wanted && c.lastTransitionTime ? iso(new Date(c.lastTransitionTime)) : now;
    };
    const conds = nodeConditions("True", now, now).map((c) => ({
      ...c,
      lastTransitionTime: transition(c.type as string),
    }));
    try {
      await core.patchNodeStatus({ name, body: { status: { conditions: conds } } }, merge);
    } catch (err) {
      // Someone deleted our Node object: a kubelet registers again.
      if ((err as { code?: number }).code === 404 && n.state === "ready") await register(n);
      else throw err;
    }
    await renewLease(name);
  }

  function readyNodes(): string[] {
    return [...nodes.values()].filter((n) => n.state === "ready").map((n) => n.spec.name);
  }

  // ---- pods -----------------------------------------------------------------------------------
  const podKey = (p: V1Pod) => p.metadata?.uid ?? "";
  const claimsOf = (p: V1Pod) =>
    (p.spec?.volumes ?? []).flatMap((v) =>
      v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
    );

  async function setStatus(p: V1Pod, status: Record<string, unknown>): Promise<void> {
    await core.patchNamespacedPodStatus(
      { namespace: p.metadata?.namespace ?? "", name: p.metadata?.name ?? "", body: { status } },
      merge,
    );
  }

  function baseStatus(p: V1Pod, run: PodRun) {
    const n = nodes.get(run.node) as NodeState;
    return {
      hostIP: hostIP(n),
      hostIPs: [{ ip: hostIP(n) }],
      startTime: p.status?.startTime ? iso(new Date(p.status.startTime)) : iso(),
    };
  }

  async function boot(p: V1Pod, run: PodRun): Promise<void> {
    const ns = p.metadata?.namespace ?? "";
    const name = p.metadata?.name ?? "";
    await setStatus(p, pendingStatus(p, baseStatus(p, run), run.restarts));
    // Volumes first: the kubelet waits for its claims to be bound (and "mounted").
    while (!stopped && claimsOf(p).some((c) => pvcs.get(c, ns)?.status?.phase !== "Bound")) await sleep(100);
    if (opts.bootDelayMs) await sleep(opts.bootDelayMs);
    const current = pods.get(name, ns);
    if (
      stopped ||
      !current ||
      current.metadata?.uid !== p.metadata?.uid ||
      current.metadata?.deletionTimestamp ||
      run.lost
    )
      return;
    let ip: string;
    try {
      const result = await opts.onPodRunning?.(current);
      const n = nodes.get(run.node) as NodeState;
      ip = result?.podIP ?? `10.244.${n.index}.${(ipCounter++ % 250) + 2}`;
    } catch (err) {
      await containerExited(current, run, 1, `${(err as Error).message ?? err}`);
      return;
    }
    run.running = true;
    run.ip = ip;
    const after = pods.get(name, ns);
    if (!after || after.metadata?.deletionTimestamp || run.lost) return; // the deletion path stops it
    await setStatus(current, runningStatus(current, baseStatus(current, run), ip, run.restarts));
  }

  /** The container exited: Failed for restartPolicy Never, else CrashLoopBackOff and a restart later. */
  async function containerExited(p: V1Pod, run: PodRun, exitCode: number, message: string): Promise<void> {
    if (run.running) {
      run.running = false;
      await opts.onPodStopped?.(p);
    }
    const never = p.spec?.restartPolicy === "Never";
    if (!never) run.restarts++;
    await setStatus(p, exitedStatus(p, baseStatus(p, run), run.restarts, exitCode, message));
    if (!never)
      spawn(async () => {
        await sleep(opts.restartBackoffMs ?? 1000);
        const current = pods.get(p.metadata?.name ?? "", p.metadata?.namespace);
        if (!stopped && current && !current.metadata?.deletionTimestamp && !run.lost)
          await boot(current, run);
      });
  }

  function kubeletPass(): void {
    for (const p of pods.list()) {
      const node = p.spec?.nodeName;
      const n = node ? nodes.get(node) : undefined;
      if (!n || n.state !== "ready") continue;
      const key = podKey(p);
      let run = runs.get(key);
      if (p.metadata?.deletionTimestamp) {
        if (run?.busy) continue;
        const r = run ?? { node: n.spec.name, running: false, busy: false, restarts: 0 };
        runs.set(key, r);
        r.busy = true;
        spawn(async () => {
          try {
            if (r.running) {
              r.running = false;
              await opts.onPodStopped?.(p);
            }
            // The kubelet finishes a graceful deletion: grace 0, for this very pod (uid precondition).
            await core.deleteNamespacedPod({
              namespace: p.metadata?.namespace ?? "",
              name: p.metadata?.name ?? "",
              gracePeriodSeconds: 0,
              body: { gracePeriodSeconds: 0, preconditions: { uid: key } },
            });
          } finally {
            r.busy = false;
          }
        });
        continue;
      }
      if (run || p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue;
      run = { node: n.spec.name, running: false, busy: true, restarts: 0 };
      runs.set(key, run);
      const r = run;
      spawn(async () => {
        try {
          await boot(p, r);
        } catch (err) {
          // Let a later pass try again (e.g. a 500 on the status update).
          if (!r.running) runs.delete(key);
          throw err;
        } finally {
          r.busy = false;
        }
      });
    }
    // Forget pods that are gone.
    const live = new Set(pods.list().map(podKey));
    for (const key of runs.keys()) if (!live.has(key) && !runs.get(key)?.busy) runs.delete(key);
  }

  // ---- scheduler ------------------------------------------------------------------------------
  async function schedulerPass(): Promise<void> {
    const ours = new Set(nodes.keys());
    const candidates = nodeCache.list().filter((n) => ours.has(n.metadata?.name ?? ""));
    const load = new Map<string, number>();
    for (const p of pods.list()) {
      const nn = p.spec?.nodeName;
      if (nn && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
        load.set(nn, (load.get(nn) ?? 0) + 1);
    }
    for (const p of pods.list()) {
      if (p.spec?.nodeName || p.metadata?.deletionTimestamp) continue;
      if ((p.spec?.schedulerName ?? "default-scheduler") !== "default-scheduler") continue;
      if ((p.spec?.schedulingGates ?? []).length > 0) continue;
      const ns = p.metadata?.namespace ?? "";
      const claims = claimsOf(p).map((c) => ({ name: c, pvc: pvcs.get(c, ns) }));
      const missing = claims.find((c) => !c.pvc);
      if (missing) {
        await unschedulable(
          p,
          `0/${candidates.length} nodes are available: persistentvolumeclaim "${missing.name}" not found. preemption: 0/${candidates.length} nodes are available: ${candidates.length} Preemption is not helpful for scheduling.`,
        );
        continue;
      }
      const deleting = claims.find((c) => c.pvc?.metadata?.deletionTimestamp);
      if (deleting) {
        await unschedulable(
          p,
          `0/${candidates.length} nodes are available: persistentvolumeclaim "${deleting.name}" is being deleted. preemption: 0/${candidates.length} nodes are available: ${candidates.length} Preemption is not helpful for scheduling.`,
        );
        continue;
      }
      const bound = claims.flatMap((c) => (c.pvc?.spec?.volumeName ? [pvs.get(c.pvc.spec.volumeName)] : []));
      if (bound.some((pv) => !pv)) continue; // the PV is not in our cache yet
      const unbound = claims
        .filter((c) => !c.pvc?.spec?.volumeName)
        .map((c) => c.pvc as V1PersistentVolumeClaim);
      const immediate = unbound.filter((c) => !volumes.waitsForFirstConsumer(c));
      if (immediate.length) {
        await unschedulable(
          p,
          `0/${candidates.length} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/${candidates.length} nodes are available: ${candidates.length} Preemption is not helpful for scheduling.`,
        );
        continue;
      }
      const selected = unbound.flatMap((c) => {
        const s = c.metadata?.annotations?.["volume.kubernetes.io/selected-node"];
        return s ? [s] : [];
      });
      const placement = choose({
        pod: p,
        nodes: candidates,
        podsOnNode: (n) => load.get(n) ?? 0,
        capacity: (n) => nodes.get(n)?.spec.podCapacity ?? 110,
        volumes: bound as V1PersistentVolume[],
        selectedNodes: selected,
      });
      if (!placement.node) {
        await unschedulable(p, placement.message);
        continue;
      }
      if (unbound.length) {
        // WaitForFirstConsumer: promise the claims to the node; the provisioner does the rest, and
        // a later pass binds the pod once they are bound.
        for (const c of unbound) await volumes.selectNode(c, placement.node);
        continue;
      }
      await core.createNamespacedPodBinding({
        namespace: ns,
        name: p.metadata?.name ?? "",
        body: {
          metadata: { name: p.metadata?.name ?? "", uid: p.metadata?.uid },
          target: { apiVersion: "v1", kind: "Node", name: placement.node },
        },
      });
      load.set(placement.node, (load.get(placement.node) ?? 0) + 1);
    }
  }

  async function unschedulable(p: V1Pod, message: string): Promise<void> {
    const c = p.status?.conditions?.find((x) => x.type === "PodScheduled");
    if (c?.status === "False" && c.reason === "Unschedulable" && c.message === message) return;
    await core.patchNamespacedPodStatus(
      {
        namespace: p.metadata?.namespace ?? "",
        name: p.metadata?.name ?? "",
        body: {
          status: {
            conditions: [podCondition("PodScheduled", "False", { reason: "Unschedulable", message })],
          },
        },
      },
      merge,
    );
  }

  // ---- node lifecycle and pod GC ---------------------------------------------------------------
  async function gcPass(): Promise<void> {
    const existing = new Set(nodeCache.list().map((n) => n.metadata?.name));
    for (const p of pods.list()) {
      const nn = p.spec?.nodeName;
      // Pod GC force-deletes pods bound to a node that no longer exists (only nodes we ran).
      if (nn && nodes.get(nn)?.state === "deleted" && !existing.has(nn))
        await core.deleteNamespacedPod({
          namespace: p.metadata?.namespace ?? "",
          name: p.metadata?.name ?? "",
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0 },
        });
      // Taint-based eviction: after the toleration's tolerationSeconds on an unreachable node.
      const node = nn ? nodeCache.get(nn) : undefined;
      if (!node || p.metadata?.deletionTimestamp) continue;
      for (const taint of node.spec?.taints ?? []) {
        if (taint.effect !== "NoExecute") continue;
        const tol = (p.spec?.tolerations ?? []).find((t) => tolerates(t, taint));
        const since = taint.timeAdded ? new Date(taint.timeAdded).getTime() : Date.now();
        if (tol && (tol.tolerationSeconds === undefined || Date.now() - since < tol.tolerationSeconds * 1000))
          continue;
        await core.deleteNamespacedPod({
          namespace: p.metadata?.namespace ?? "",
          name: p.metadata?.name ?? "",
        });
        break;
      }
    }
  }

  // ---- loop -----------------------------------------------------------------------------------
  let pass: Promise<void> | null = null;
  let again = false;
  function kick(): void {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    pass = (async () => {
      do {
        again = false;
        for (const step of [() => volumes.pass(), schedulerPass, async () => kubeletPass(), gcPass]) {
          try {
            await step();
          } catch (err) {
            note(err);
          }
        }
      } while (again && !stopped);
    })().finally(() => (pass = null));
  }

  await Promise.all(caches.map((c) => c.start()));
  for (const spec of opts.nodes) {
    const n: NodeState = { spec, index: nextIndex++, state: "ready" };
    nodes.set(spec.name, n);
    await register(n);
  }
  const ticker = setInterval(kick, 250);
  const heartbeats = setInterval(() => {
    for (const n of nodes.values()) if (n.state === "ready") spawn(() => heartbeat(n));
  }, opts.heartbeatMs ?? 1000);
  kick();

  async function stopPodsOn(node: string): Promise<void> {
    for (const [key, run] of runs) {
      if (run.node !== node) continue;
      run.lost = true;
      const p = pods.list().find((x) => podKey(x) === key);
      if (run.running && p) {
        run.running = false;
        await opts.onPodStopped?.(p);
      }
    }
  }

  return {
    readyNodes,
    errors,
    async addNode(spec) {
      const known = nodes.get(spec.name);
      const n: NodeState = { spec, index: known?.index ?? nextIndex++, state: "ready" };
      nodes.set(spec.name, n);
      for (const [key, run] of runs) if (run.node === spec.name) runs.delete(key);
      await register(n);
      kick();
    },
    async removeNode(name, how) {
      const n = nodes.get(name);
      if (!n) throw new Error(`unknown node ${name}`);
      n.state = how === "delete" ? "deleted" : "notready";
      await stopPodsOn(name);
      if (how === "delete") {
        await core.deleteNode({ name });
      } else {
        const now = iso();
        await core.patchNodeStatus(
          { name, body: { status: { conditions: nodeConditions("Unknown", now, now) } } },
          merge,
        );
        const taints: V1Taint[] = [
          ...(nodeCache.get(name)?.spec?.taints ?? []).filter(
            (t) => t.key !== "node.kubernetes.io/unreachable",
          ),
          { key: "node.kubernetes.io/unreachable", effect: "NoSchedule", timeAdded: now as never },
          { key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: now as never },
        ];
        await core.patchNode({ name, body: { spec: { taints } } }, merge);
        // The node lifecycle controller marks its pods not ready.
        for (const p of pods.list().filter((x) => x.spec?.nodeName === name))
          await core
            .patchNamespacedPodStatus(
              {
                namespace: p.metadata?.namespace ?? "",
                name: p.metadata?.name ?? "",
                body: {
                  status: {
                    conditions: [
                      ...(p.status?.conditions ?? []).filter((c) => c.type !== "Ready"),
                      podCondition("Ready", "False", { reason: "NodeNotReady" }),
                    ],
                  },
                },
              },
              merge,
            )
            .catch(note);
      }
      kick();
    },
    async crashPod(name, namespace, o = {}) {
      const p = pods
        .list()
        .find((x) => x.metadata?.name === name && (!namespace || x.metadata?.namespace === namespace));
      const run = p && runs.get(podKey(p));
      if (!p || !run) throw new Error(`pod ${namespace ?? "*"}/${name} is not running on a fake node`);
      await containerExited(
        p,
        run,
        o.exitCode ?? 137,
        o.message ?? "container crashed (FakeKubelet.crashPod)",
      );
    },
    async stop() {
      stopped = true;
      clearInterval(ticker);
      clearInterval(heartbeats);
      await Promise.all(caches.map((c) => c.stop()));
      await pass;
      await Promise.allSettled([...tasks]);
    },
  };
}
