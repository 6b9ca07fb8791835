import { KubeConfig, NodeV1Api, StorageV1Api, type V1Pod } from "@kubernetes/client-node";
import type { Server } from "node:net";
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from "./api-server.js";
import { type FakeKubelet, type FakeKubeletOptions, type FakeNodeSpec, startFakeKubelet } from "./kubelet.js";

/**
 * A whole fake cluster: the fake apiserver, a fake kubelet (with scheduler and storage
 * controllers) for `nodes`, a StorageClass and RuntimeClasses. `kubeconfig` is for the code under test; the
 * kubelet uses its own (`harness:kubelet` token), so its requests are neither faulted nor counted
 * unless asked (see FakeApiServer.requests / faults).
 */
export interface FakeClusterOptions {
  nodes: FakeNodeSpec[];
  onPodRunning?: (pod: V1Pod) => Promise<{ podIP: string } | void>;
  onPodStopped?: (pod: V1Pod) => Promise<void> | void;
  bootDelayMs?: number;
  api?: FakeApiServerOptions;
  kubelet?: Partial<Omit<FakeKubeletOptions, "kubeconfig" | "nodes">>;
  /**
   * The StorageClass to create, or false for none. Default: `fake-local`, WaitForFirstConsumer,
   * reclaim Delete, marked as the default class.
   */
  storageClass?:
    | {
        name: string;
        bindingMode?: "WaitForFirstConsumer" | "Immediate";
        reclaimPolicy?: "Delete" | "Retain";
        isDefault?: boolean;
      }
    | false;
  /**
   * The RuntimeClasses to create (handler = name, no overhead): RuntimeClass admission refuses a
   * pod naming one that does not exist. Default `["kata-fc"]`, the builders' class; `[]` for none.
   */
  runtimeClasses?: string[];
}

export interface FakeCluster {
  api: FakeApiServer;
  kubelet: FakeKubelet;
  /** For the code under test. */
  kubeconfig: KubeConfig;
  close(): Promise<void>;
}

export async function startFakeCluster(opts: FakeClusterOptions): Promise<FakeCluster> {
  const api = await startFakeApiServer(opts.api);
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromString(api.kubeconfigYaml());
  const harness = new KubeConfig();
  harness.loadFromString(api.kubeconfigYaml({ token: "harness:kubelet" }));
  const sc = opts.storageClass === undefined ? { name: "fake-local" } : opts.storageClass;
  if (sc) {
    await harness.makeApiClient(StorageV1Api).createStorageClass({
      body: {
        metadata: {
          name: sc.name,
          annotations: { "storageclass.kubernetes.io/is-default-class": String(sc.isDefault ?? true) },
        },
        provisioner: "fake.remote-builder/local",
        volumeBindingMode: sc.bindingMode ?? "WaitForFirstConsumer",
        reclaimPolicy: sc.reclaimPolicy ?? "Delete",
      },
    });
  }
  const node = harness.makeApiClient(NodeV1Api);
  for (const name of opts.runtimeClasses ?? ["kata-fc"])
    await node.createRuntimeClass({ body: { metadata: { name }, handler: name } });
  let kubelet: FakeKubelet;
  try {
    kubelet = await startFakeKubelet({
      ...opts.kubelet,
      kubeconfig: harness,
      nodes: opts.nodes,
      ...(opts.onPodRunning ? { onPodRunning: opts.onPodRunning } : {}),
      ...(opts.onPodStopped ? { onPodStopped: opts.onPodStopped } : {}),
      ...(opts.bootDelayMs !== undefined ? { bootDelayMs: opts.bootDelayMs } : {}),
    });
  } catch (err) {
    await api.close();
    throw err;
  }
  return {
    api,
    kubelet,
    kubeconfig,
    async close() {
      await kubelet.stop();
      await api.close();
    },
  };
}

const taken = new Set<string>();

/**
 * A fresh loopback address 127.a.b.c for one pod (all of 127/8 routes to lo on Linux), never
 * 127.0.0.x, and not one handed out before in this process.
 */
export function randomLoopbackIP(): string {
  for (;;) {
    const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
    const ip = `127.${rnd(10, 250)}.${rnd(0, 255)}.${rnd(2, 254)}`;
    if (!taken.has(ip)) {
      taken.add(ip);
      return ip;
    }
  }
}

/**
 * Listens `server` on `port` of a fresh loopback address, retrying on EADDRINUSE (another test
 * process may hold the same address and port), and returns the address: the pod IP to report
 * from `onPodRunning`.
 */
export async function listenOnLoopbackIP(server: Server, port: number, attempts = 20): Promise<string> {
  for (let i = 0; ; i++) {
    const ip = randomLoopbackIP();
    try {
      await new Promise<void>((ok, fail) => {
        const onError = (err: Error) => fail(err);
        server.once("error", onError);
        server.listen(port, ip, () => {
          server.off("error", onError);
          ok();
        });
      });
      return ip;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || i >= attempts) throw err;
    }
  }
}
