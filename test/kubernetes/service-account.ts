/**
 * The service's own rights against a real API server: deploy/'s ServiceAccount and RBAC, moved to
 * a rig's namespaces (cluster-scoped roles get the rig's suffix, as rigs share the server),
 * applied by the admin, and a kubeconfig that impersonates the ServiceAccount. The driver given
 * that kubeconfig can do exactly what deploy/ lets the service do in production.
 */
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { type DeployNamespaces, relocate } from "../deploy/relocate.js";
import { BASE, type KubeObject, renderObjects } from "../deploy/render.js";
import { ServerSideApply } from "../harness/kube/server-side-apply.js";
import { eventually } from "../harness/wait.js";

const RBAC_KINDS = ["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"];

let rendered: Promise<KubeObject[]> | null = null;

/** Applies deploy/'s RBAC for the rig; returns the ServiceAccount's kubeconfig and an undo. */
export async function actAsServiceAccount(
  admin: KubeConfig,
  ns: DeployNamespaces,
  suffix: string,
): Promise<{ kubeconfig: KubeConfig; remove(): Promise<void> }> {
  rendered ??= renderObjects(BASE);
  const objects = await rendered;
  const rbac = relocate(objects, ns, suffix).filter((o) => RBAC_KINDS.includes(o.kind));
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
    async remove() {
      for (const o of rbac.filter((x) => !x.metadata.namespace)) await apply.delete(o);
    },
  };
}

/** The authorizer reads RBAC from its own cache: wait until the new rights are seen. */
async function rightsInEffect(kubeconfig: KubeConfig, ns: DeployNamespaces): Promise<void> {
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
