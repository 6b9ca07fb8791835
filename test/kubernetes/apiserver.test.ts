import { describe, it } from "@jest/globals";
import { driverScenarios } from "./scenarios.js";
import { KUBE_APISERVER, startKubeRig } from "./support.js";

/**
 * The driver's scenarios against a real kube-apiserver (no controllers, no kubelet: the fake
 * kubelet plays the nodes and the few controllers the scenarios need): the upstream one of
 * ../shared/tools/kube, which the global setup starts (test/harness/kube/real-apiserver.ts), or
 * any other whose kubeconfig KUBE_APISERVER names. Skipped, saying why, only where neither is.
 */
if (KUBE_APISERVER) {
  describe(`the kubernetes driver against the API server of ${KUBE_APISERVER}`, () => {
    driverScenarios((o) => startKubeRig({ ...o, external: KUBE_APISERVER }));
  });
} else {
  describe("the kubernetes driver against a real API server", () => {
    it.skip(`is skipped: ${process.env.RB_TEST_KUBE_SKIP ?? "KUBE_APISERVER is not set"}`, () => {});
  });
}
