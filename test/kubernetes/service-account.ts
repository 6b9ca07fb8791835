/**
 * The service's own rights against a real API server: deploy/'s ServiceAccount and RBAC, moved to
 * a rig's namespaces (cluster-scoped roles get the rig's suffix, as rigs share the server),
 * applied by the admin, and a kubeconfig that impersonates the ServiceAccount. The driver given
 * that kubeconfig can do exactly what deploy/ lets the service do in production.
 */
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { BASE, type KubeObject, obj, renderObjects } from "../deploy/render.js";
import { ServerSideApply } from "../harness/kube/server-side-apply.js";
import { eventually } from "../harness/wait.js";

const RBAC_KINDS = ["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"];

let rendered: Promise<KubeObject[]> | null = null;

export interface RigNamespaces {
  /** The builders' namespace (RB_K8S_NAMESPACE). */
  namespace: string;
  /** The service's namespace (RB_K8S_SERVICE_NAMESPACE). */
  serviceNamespace: string;
}

/** Applies deploy/'s RBAC for the rig; returns the ServiceAccount's kubeconfig and an undo. */
export async function actAsServiceAccount(
  admin: KubeConfig,
  ns: RigNamespaces,
  suffix: string,
): Promise<{ kubeconfig: KubeConfig; user: string; remove(): Promise<void> }> {
  rendered ??= renderObjects(BASE);
  const objects = await rendered;
  const rbac = objects
    .filter((o) => RBAC_KINDS.includes(o.kind))
    .map((o) => retarget(o, deployNamespaces(objects), ns, suffix));
  const account = rbac.find((o) => o.kind === "ServiceAccount")!;
  const apply = new ServerSideApply(admin);
  for (const o of rbac) await apply.apply(o);
  const user = `system:serviceaccount:${account.metadata.namespace}:${account.metadata.name}`;
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromString(admin.exportConfig());
  kubeconfig.users = kubeconfig.users.map((u) => ({ ...u, impersonateUser: user }));
  await rightsInEffect(kubeconfig, ns);
  return {
    kubeconfig,
    user,
    async remove() {
      for (const o of rbac.filter((x) => !x.metadata.namespace)) await apply.delete(o);
    },
  };
}

/** The namespaces deploy/ puts the service and its builders in, as its ConfigMap tells the driver. */
function deployNamespaces(objects: KubeObject[]): RigNamespaces {
  const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "remote-builder")!;
  const data = obj(config.data) as Record<string, string>;
  return { namespace: data.RB_K8S_NAMESPACE!, serviceNamespace: data.RB_K8S_SERVICE_NAMESPACE! };
}

function retarget(o: KubeObject, from: RigNamespaces, to: RigNamespaces, suffix: string): KubeObject {
  const move = (n: unknown) =>
    n === from.namespace ? to.namespace : n === from.serviceNamespace ? to.serviceNamespace : n;
  const moved = structuredClone(o);
  if (moved.metadata.namespace) moved.metadata.namespace = move(moved.metadata.namespace) as string;
  else moved.metadata.name = `${moved.metadata.name}-${suffix}`;
  if (Array.isArray(moved.subjects)) {
    moved.subjects = moved.subjects.map((s) => ({ ...obj(s), namespace: move(obj(s).namespace) }));
  }
  const ref = obj(moved.roleRef);
  if (ref.kind === "ClusterRole") moved.roleRef = { ...ref, name: `${String(ref.name)}-${suffix}` };
  return moved;
}

/** The authorizer reads RBAC from its own cache: wait until the new rights are seen. */
async function rightsInEffect(kubeconfig: KubeConfig, ns: RigNamespaces): Promise<void> {
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const coordination = kubeconfig.makeApiClient(CoordinationV1Api);
  await eventually("the ServiceAccount's rights to take effect", () =>
    Promise.all([
      core.listNamespacedPod({ namespace: ns.namespace }),
      coordination.listNamespacedLease({ namespace: ns.serviceNamespace }),
      core.listNode(),
    ]).then(
      () => true,
      () => false,
    ),
  );
}
