import { afterEach, describe, expect, it } from "@jest/globals";
import { CoordinationV1Api, CoreV1Api, NetworkingV1Api, type V1NetworkPolicy } from "@kubernetes/client-node";
import { MERGE_PATCH } from "../../service/adapters/drivers/kubernetes/cluster.js";
import { until } from "../drivers/support.js";
import { driverScenarios } from "./scenarios.js";
import { KUBE_APISERVER, type KubeRig, startKubeRig } from "./support.js";

/**
 * The driver's scenarios against a real kube-apiserver (no controllers, no kubelet: the fake
 * kubelet plays the nodes and the few controllers the scenarios need): the upstream one of
 * ../shared/tools/kube, which the global setup starts (test/harness/kube/real-apiserver.ts), or
 * any other whose kubeconfig KUBE_APISERVER names. Skipped, saying why, only where neither is.
 *
 * Twice: as the admin, and as the service's own ServiceAccount with deploy/'s RBAC only (the
 * driver's kubeconfig impersonates it), so a call the RBAC does not grant fails a scenario.
 */
if (KUBE_APISERVER) {
  const external = KUBE_APISERVER;
  describe(`the kubernetes driver against the API server of ${external}`, () => {
    driverScenarios((o) => startKubeRig({ ...o, external }));
  });

  describe("the kubernetes driver with the service's own RBAC (deploy/base/rbac.yaml, by impersonation)", () => {
    driverScenarios((o) => startKubeRig({ ...o, external, serviceAccount: true }));

    let rig: KubeRig | null = null;
    afterEach(async () => {
      await rig?.close();
      rig = null;
    });

    it("acts as the ServiceAccount: what deploy/ does not grant is refused, what it grants is not", async () => {
      rig = await startKubeRig({ external, serviceAccount: true });
      const core = rig.driverConfig.makeApiClient(CoreV1Api);
      const coordination = rig.driverConfig.makeApiClient(CoordinationV1Api);
      const refused = { code: 403 };
      // The service's own Secrets, any pod outside the builders' namespace, writes to nodes.
      await expect(core.listNamespacedSecret({ namespace: rig.serviceNamespace })).rejects.toMatchObject(
        refused,
      );
      await expect(core.listPodForAllNamespaces()).rejects.toMatchObject(refused);
      await expect(core.deleteNode({ name: rig.node("node-a") })).rejects.toMatchObject(refused);
      await expect(coordination.listNamespacedLease({ namespace: rig.namespace })).rejects.toMatchObject(
        refused,
      );
      // What the driver needs.
      await expect(core.listNamespacedSecret({ namespace: rig.namespace })).resolves.toBeDefined();
      await expect(
        coordination.listNamespacedLease({ namespace: rig.serviceNamespace }),
      ).resolves.toBeDefined();
      await expect(core.listNode()).resolves.toBeDefined();
    });

    it("puts back the builders' NetworkPolicy when it is edited by hand (its update is granted)", async () => {
      rig = await startKubeRig({ external, serviceAccount: true });
      const r = rig;
      await r.start("replica-1");
      const ports = async () =>
        (await r.list<V1NetworkPolicy>("networkpolicies"))[0]?.spec?.ingress?.[0]?.ports?.map(
          (p) => `${p.protocol}/${p.port}`,
        ) ?? null;
      await until("the NetworkPolicy", async () => (await ports()) !== null);
      const edited = await r.adminConfig
        .makeApiClient(NetworkingV1Api)
        .patchNamespacedNetworkPolicy(
          { name: "builders", namespace: r.namespace, body: { spec: { ingress: [{}] } } },
          MERGE_PATCH,
        );
      expect(edited.spec?.ingress).toEqual([{}]);
      await until("the NetworkPolicy put back", async () => (await ports())?.join() === "TCP/1234");
    });
  });
} else {
  describe("the kubernetes driver against a real API server", () => {
    it.skip(`is skipped: ${process.env.RB_TEST_KUBE_SKIP ?? "KUBE_APISERVER is not set"}`, () => {});
  });
}
