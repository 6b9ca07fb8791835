import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  type RequestContext,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { attemptSignal } from "./retry.js";

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
  reuseConnections(kc);
  abortGivenUpAttempts(kc);
  return {
    config: kc,
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

/**
 * @kubernetes/client-node 2.x makes a new undici Agent for every request, so every API call opened
 * a connection and paid a TLS handshake (bench:kube). The first Agent made for a set of connection
 * options is kept and given to every later request with the same options; new options (a client
 * certificate from an exec plugin, say) get a new Agent, and the old one closes once its requests end.
 * The options are read where the library builds them, through its public `createDispatcherOptions`.
 */
function reuseConnections(kc: KubeConfig): void {
  type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;
  let kept: { options: string; dispatcher: Dispatcher } | null = null;
  let lastOptions = "";
  const dispatcherOptions = kc.createDispatcherOptions.bind(kc);
  kc.createDispatcherOptions = (cluster, agentOptions) => {
    const options = dispatcherOptions(cluster, agentOptions);
    lastOptions = JSON.stringify(options);
    return options;
  };
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    const made = context.getDispatcher();
    if (!made) return;
    // An Agent that never connected holds nothing: the one made for this request is dropped.
    if (kept?.options !== lastOptions) {
      kept?.dispatcher.close().catch(() => {}); // its requests end first; it may be closed already
      kept = { options: lastOptions, dispatcher: made };
    }
    context.setDispatcher(kept.dispatcher);
  };
}

/**
 * Each request carries the signal of its attempt (`attemptSignal` in retry.ts): an attempt that
 * `kube()` gives up on is aborted and its connection closed, rather than left running beside the
 * retry until the API server answers it.
 */
function abortGivenUpAttempts(kc: KubeConfig): void {
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    const signal = attemptSignal.getStore();
    if (signal) context.setSignal(signal);
  };
}

export const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
