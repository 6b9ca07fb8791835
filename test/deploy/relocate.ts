/**
 * deploy/'s objects moved to namespaces of a test's own, with a suffix on cluster-scoped names, so
 * that tests applying them to a shared API server (or a cluster KUBE_APISERVER names) meet
 * neither each other nor a real installation.
 */
import { type KubeObject, obj } from "./render.js";

export interface DeployNamespaces {
  /** The builders' namespace (RB_K8S_NAMESPACE). */
  namespace: string;
  /** The service's namespace (RB_K8S_SERVICE_NAMESPACE). */
  serviceNamespace: string;
}

/** The namespaces deploy/ puts the service and its builders in, as its ConfigMap tells the driver. */
export function deployNamespaces(objects: KubeObject[]): DeployNamespaces {
  const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "remote-builder")!;
  const data = obj(config.data) as Record<string, string>;
  return { namespace: data.RB_K8S_NAMESPACE!, serviceNamespace: data.RB_K8S_SERVICE_NAMESPACE! };
}

/** `objects` with deploy/'s namespaces replaced by `to`, and `-suffix` on cluster-scoped names. */
export function relocate(objects: KubeObject[], to: DeployNamespaces, suffix: string): KubeObject[] {
  const from = deployNamespaces(objects);
  const move = (n: unknown) =>
    n === from.namespace ? to.namespace : n === from.serviceNamespace ? to.serviceNamespace : n;
  return objects.map((o) => {
    const moved = structuredClone(o);
    if (moved.kind === "Namespace") moved.metadata.name = move(moved.metadata.name) as string;
    else if (moved.metadata.namespace) moved.metadata.namespace = move(moved.metadata.namespace) as string;
    else moved.metadata.name = `${moved.metadata.name}-${suffix}`;
    if (Array.isArray(moved.subjects)) {
      moved.subjects = moved.subjects.map((s) => ({ ...obj(s), namespace: move(obj(s).namespace) }));
    }
    const ref = obj(moved.roleRef);
    if (ref.kind === "ClusterRole") moved.roleRef = { ...ref, name: `${String(ref.name)}-${suffix}` };
    return moved;
  });
}
