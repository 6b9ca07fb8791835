import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";

/** The API groups the driver and the leader election use, from one kubeconfig. */
export interface Cluster {
  config: KubeConfig;
  core: CoreV1Api;
  networking: NetworkingV1Api;
  coordination: CoordinationV1Api;
}

/** In a pod: its service account; elsewhere: KUBECONFIG or ~/.kube/config. */
export function connectCluster(config?: KubeConfig): Cluster {
  const kc = config ?? new KubeConfig();
  if (!config) kc.loadFromDefault();
  return {
    config: kc,
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

export const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
