import { describe, it } from "@jest/globals";
import { driverScenarios } from "./scenarios.js";
import { KUBE_APISERVER, startKubeRig } from "./support.js";

/**
 * The driver's scenarios against a real kube-apiserver (no controllers, no kubelet: the fake
 * kubelet plays the nodes and the few controllers the scenarios need). KUBE_APISERVER names the
 * kubeconfig of one started by hand; docs/kubernetes.md says how.
 */
if (KUBE_APISERVER) {
  describe(`the kubernetes driver against the API server of ${KUBE_APISERVER}`, () => {
    driverScenarios((o) => startKubeRig({ ...o, external: KUBE_APISERVER }));
  });
} else {
  describe("the kubernetes driver against a real API server", () => {
    it.skip("is skipped: KUBE_APISERVER (the kubeconfig of a kube-apiserver) is not set", () => {});
  });
}
