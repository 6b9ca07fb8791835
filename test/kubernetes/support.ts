/**
 * Services with the production kubernetes driver against a cluster: the fake API server, or a
 * real kube-apiserver (KUBE_APISERVER names its kubeconfig). Either way a fake kubelet (an API
 * client, like the real one) plays the nodes, and each running pod's "buildkitd" is a TLS echo
 * server on a loopback address of its own (the pod IP) with the certificate from the pod's Secret.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type tls from "node:tls";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  NetworkingV1Api,
  NodeV1Api,
  StorageV1Api,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import { connectCluster } from "../../service/adapters/drivers/kubernetes/cluster.js";
import type { KubernetesDriver } from "../../service/adapters/drivers/kubernetes/driver.js";
import { kubernetesFleet } from "../../service/adapters/drivers/kubernetes/fleet.js";
import type { LeaseElector } from "../../service/adapters/drivers/kubernetes/lease-elector.js";
import { loadConfig } from "../../service/config.js";
import { type EchoBuilder, startEchoBuilder } from "../harness/echo-builder.js";
import { startTestService, testEnv, type TestService } from "../harness/context.js";
import { type FakeApiServer } from "../harness/kube/api-server.js";
import { configMount, podBuildkitd } from "../harness/pod-buildkitd.js";
import { listenOnLoopbackIP, startFakeCluster } from "../harness/kube/cluster.js";
import { type FakeKubelet, type FakeNodeSpec, startFakeKubelet } from "../harness/kube/kubelet.js";
import { actAsServiceAccount } from "./service-account.js";

export const DIGEST = `@sha256:${"0".repeat(63)}1`;
export const STORAGE_CLASS = "rb-test-local";

/** Where the real-apiserver suite runs: a kubeconfig file, or nothing (the suite skips). */
export const KUBE_APISERVER = process.env.KUBE_APISERVER;

export interface KubeRig {
  /** The fake API server; null against a real one. */
  api: FakeApiServer | null;
  kubelet: FakeKubelet;
  /** Unique per rig, so runs on a shared real API server do not meet. */
  namespace: string;
  serviceNamespace: string;
  node(name: string): string;
  /** The echo server standing in for each running pod's buildkitd, by pod name. */
  builders: Map<string, EchoBuilder>;
  /** Every builder pod the rig saw created, in order. */
  created: string[];
  /** What the drivers reported (DriverEvents), in order. */
  events: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
  /** While set, every pod's buildkitd exits at start with these words (as the real one on a bad flag). */
  failBuilders: string | null;
  /**
   * Pods that start from now on wait before their buildkitd listens (they stay booting) until the
   * returned function is called, or the rig closes.
   */
  holdBoots(): () => void;
  /** What the drivers reported of pre-warmed builders stopped unused (onPrewarmExpired), in order. */
  prewarmExpired: Array<{ accountId: string; seconds: number }>;
  list<T extends KubernetesObject>(resource: Resource, namespace?: string | null): Promise<T[]>;
  core: CoreV1Api;
  /** What the drivers connect with: the harness's admin, or the service's ServiceAccount. */
  driverConfig: KubeConfig;
  /** The harness's own connection: neither faulted nor counted, and the admin on a real server. */
  adminConfig: KubeConfig;
  start(identity: string, env?: Record<string, string>): Promise<KubeService>;
  close(): Promise<void>;
}

export type Resource =
  "pods" | "secrets" | "persistentvolumeclaims" | "persistentvolumes" | "networkpolicies" | "leases";

export interface KubeService extends TestService {
  kube: KubernetesDriver;
  elector: LeaseElector;
}

export async function startKubeRig(
  o: {
    nodes?: string[];
    bootDelayMs?: number;
    /** A real API server's kubeconfig file; without it, the fake API server. */
    external?: string;
    /** With `external`: the drivers act as deploy/'s ServiceAccount, with its RBAC only. */
    serviceAccount?: boolean;
  } = {},
): Promise<KubeRig> {
  const suffix = randomBytes(3).toString("hex");
  const node = (name: string) => `${name}-${suffix}`;
  const nodes: FakeNodeSpec[] = (o.nodes ?? ["node-a", "node-b"]).map((n) => ({ name: node(n) }));
  const builders = new Map<string, EchoBuilder>();
  let held: { boots: Promise<void>; release: () => void } | null = null;
  let harness: KubeConfig;
  let forDriver: KubeConfig;
  let api: FakeApiServer | null = null;
  let kubelet: FakeKubelet;
  let core: CoreV1Api;
  const hooks = {
    async onPodRunning(pod: V1Pod) {
      await held?.boots;
      if (rig.failBuilders) throw new Error(rig.failBuilders);
      // The Secret mounted where the pod's --config points; the TLS files its buildkitd.toml names.
      const { secretName } = configMount(pod);
      const secret = await core.readNamespacedSecret({
        name: secretName,
        namespace: pod.metadata!.namespace!,
      });
      const buildkitd = podBuildkitd(pod, secret);
      const builder = await startEchoBuilder(
        {
          tls: async () => ({
            caPem: buildkitd.file("ca"),
            certPem: buildkitd.file("cert"),
            keyPem: buildkitd.file("key"),
            serverName: "",
          }),
        },
        async (server: tls.Server) => ({ host: await listenOnLoopbackIP(server, 1234), port: 1234 }),
      );
      builders.set(pod.metadata!.name!, builder);
      return { podIP: new URL(builder.endpoint.replace("tcp:", "http:")).hostname };
    },
    async onPodStopped(pod: V1Pod) {
      const name = pod.metadata!.name!;
      await builders.get(name)?.close();
      builders.delete(name);
    },
  };
  if (o.external) {
    harness = new KubeConfig();
    harness.loadFromString(readFileSync(o.external, "utf8"));
    forDriver = harness;
    core = harness.makeApiClient(CoreV1Api);
    await harness
      .makeApiClient(StorageV1Api)
      .createStorageClass({
        body: {
          metadata: { name: STORAGE_CLASS },
          provisioner: "fake.remote-builder/local",
          volumeBindingMode: "WaitForFirstConsumer",
          reclaimPolicy: "Delete",
        },
      })
      .catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
    // The cluster operator's part: the RuntimeClass builders name (admission refuses pods without it).
    await harness
      .makeApiClient(NodeV1Api)
      .createRuntimeClass({
        body: {
          metadata: { name: "kata-fc" },
          handler: "kata-fc",
          overhead: { podFixed: { memory: "160Mi", cpu: "250m" } },
        },
      })
      .catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
    kubelet = await startFakeKubelet({
      kubeconfig: harness,
      nodes,
      bootDelayMs: o.bootDelayMs ?? 20,
      ...hooks,
    });
  } else {
    const cluster = await startFakeCluster({
      nodes,
      bootDelayMs: o.bootDelayMs ?? 20,
      storageClass: { name: STORAGE_CLASS },
      ...hooks,
    });
    api = cluster.api;
    kubelet = cluster.kubelet;
    forDriver = cluster.kubeconfig;
    harness = new KubeConfig();
    // The harness's own reads are neither faulted nor counted.
    harness.loadFromString(api.kubeconfigYaml({ token: "harness:test" }));
    core = harness.makeApiClient(CoreV1Api);
  }
  const namespace = `rb-builders-${suffix}`;
  const serviceNamespace = `rb-service-${suffix}`;
  for (const name of [namespace, serviceNamespace]) {
    await core.createNamespace({
      body: { metadata: { name, labels: { "kubernetes.io/metadata.name": name } } },
    });
  }
  let serviceAccount: Awaited<ReturnType<typeof actAsServiceAccount>> | null = null;
  if (o.serviceAccount) {
    if (!o.external) throw new Error("the fake API server has no RBAC: serviceAccount needs external");
    serviceAccount = await actAsServiceAccount(harness, { namespace, serviceNamespace }, suffix);
    forDriver = serviceAccount.kubeconfig;
  }
  const created: string[] = [];
  const watcher = makeInformer(harness, `/api/v1/namespaces/${namespace}/pods`, () =>
    core.listNamespacedPod({ namespace }),
  );
  watcher.on("add", (p) => created.push(p.metadata!.name!));
  await watcher.start();

  const networking = harness.makeApiClient(NetworkingV1Api);
  const coordination = harness.makeApiClient(CoordinationV1Api);
  const services = new Set<KubeService>();
  const env = {
    RB_DRIVER: "kubernetes",
    RB_K8S_NAMESPACE: namespace,
    RB_K8S_SERVICE_NAMESPACE: serviceNamespace,
    RB_K8S_BUILDKIT_IMAGE: `moby/buildkit:v0.11.6${DIGEST}`,
    RB_K8S_FORMAT_IMAGE: `debian:bookworm-slim${DIGEST}`,
    RB_K8S_STORAGE_CLASS: STORAGE_CLASS,
    RB_K8S_NODE_GRACE_SECONDS: "1",
    RB_RECONCILE_INTERVAL_MS: "100",
  };
  const rig: KubeRig = {
    api,
    kubelet,
    namespace,
    serviceNamespace,
    node,
    builders,
    created,
    events: [],
    failBuilders: null,
    holdBoots() {
      let release!: () => void;
      const boots = new Promise<void>((resolve) => (release = resolve));
      const hold = { boots, release };
      held = hold;
      return () => {
        if (held === hold) held = null;
        release();
      };
    },
    prewarmExpired: [],
    core,
    driverConfig: forDriver,
    adminConfig: harness,
    async list<T extends KubernetesObject>(resource: Resource, ns: string | null = namespace): Promise<T[]> {
      const n = ns ?? "";
      const lists: Record<Resource, () => Promise<{ items: unknown[] }>> = {
        pods: () => core.listNamespacedPod({ namespace: n }),
        secrets: () => core.listNamespacedSecret({ namespace: n }),
        persistentvolumeclaims: () => core.listNamespacedPersistentVolumeClaim({ namespace: n }),
        persistentvolumes: () => core.listPersistentVolume(),
        networkpolicies: () => networking.listNamespacedNetworkPolicy({ namespace: n }),
        leases: () => coordination.listNamespacedLease({ namespace: n }),
      };
      return (await lists[resource]()).items as T[];
    },
    async start(identity, extra = {}) {
      const merged = { ...env, ...extra };
      const config = loadConfig(await testEnv(merged));
      let made: { driver: KubernetesDriver; elector: LeaseElector } | null = null;
      const service = await startTestService(merged, {
        driver: (context) => {
          made = kubernetesFleet({
            config: { ...config.kubernetes, identity },
            credentials: context.credentials,
            clock: context.clock,
            shapes: config.shapes,
            idleTtlMs: config.builderIdleTtlMs,
            warmPool: config.warmPool,
            warmVolumeGiB: 20,
            cluster: connectCluster(forDriver),
            leaseDurationMs: 1_500,
            // Creation times are stamped to the second (by the real API server and the fake
            // alike), so a grace of 1 s could be none: a pass between a builder's Secret and its
            // pod reaching the cache would take the Secret for an orphan.
            creationGraceMs: 2_000,
            requestTimeoutMs: 1_000,
            onEvent: (level, message, fields) => rig.events.push({ level, message, fields }),
            // Recorded, and passed on as the service would (its /metrics count the wasted seconds).
            onPrewarmExpired: (accountId, seconds) => {
              rig.prewarmExpired.push({ accountId, seconds });
              context.onPrewarmExpired?.(accountId, seconds);
            },
          });
          return made.driver;
        },
        leadership: {
          isLeader: () => made?.elector.isLeader() ?? false,
          start: () => made?.elector.start(),
          stop: async () => made?.elector.stop(),
        },
      });
      const { driver, elector } = made!;
      await driver.start();
      const stop = service.stop.bind(service);
      const kubeService: KubeService = Object.assign(service, {
        kube: driver,
        elector,
        async stop() {
          services.delete(kubeService);
          await stop();
        },
      });
      services.add(kubeService);
      return kubeService;
    },
    async close() {
      held?.release();
      await Promise.allSettled([...services].map((s) => s.stop()));
      await watcher.stop();
      if (api) {
        // The fake cluster's close stops its kubelet too.
        await kubelet.stop();
        await api.close();
      } else await kubelet.stop();
      for (const b of builders.values()) await b.close();
      await serviceAccount?.remove();
    },
  };
  return rig;
}
