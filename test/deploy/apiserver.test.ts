import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { load } from "js-yaml";
import { realApiServerInTest } from "../harness/kube/real-apiserver.js";
import { ServerSideApply } from "../harness/kube/server-side-apply.js";
import { relocate } from "./relocate.js";
import { BASE, type KubeObject, OVERLAY, renderObjects } from "./render.js";

/**
 * deploy/overlays/tenant-zero, rendered as the deploy workflow renders it, applied to the real
 * kube-apiserver of the test run: the server validates every object with its own schemas and
 * admission (strict field validation: an unknown field is refused, not dropped), and stores
 * each as written. No controllers run, so nothing starts; this is what `kubectl apply` meets.
 * Under namespaces and cluster-scoped names of its own (relocate.ts), removed afterwards: the
 * server may be shared, or a cluster KUBE_APISERVER names, with a real installation on it.
 */
const server = realApiServerInTest();

if ("kubeconfig" in server) {
  describe("deploy/overlays/tenant-zero applied to the real API server", () => {
    let apply: ServerSideApply;
    let objects: KubeObject[];
    const applied: KubeObject[] = [];

    beforeAll(async () => {
      const kc = new KubeConfig();
      kc.loadFromFile(server.kubeconfig);
      apply = new ServerSideApply(kc, "remote-builder-deploy-test");
      const suffix = randomBytes(3).toString("hex");
      objects = relocate(
        await renderObjects(OVERLAY),
        {
          namespace: `rb-deploy-builders-${suffix}`,
          serviceNamespace: `rb-deploy-${suffix}`,
        },
        suffix,
      );
    });

    afterAll(async () => {
      for (const o of applied.reverse()) await apply.delete(o);
    });

    it("accepts every object, namespaces first, and stores each as written", async () => {
      const namespacesFirst = [...objects].sort((a, b) => rank(a) - rank(b));
      for (const o of namespacesFirst) {
        const stored = await apply.apply(o);
        applied.push(o);
        expect(stored).toMatchObject(o);
      }
      expect(namespacesFirst.map((o) => o.kind)).toEqual(
        expect.arrayContaining([
          "Deployment",
          "PodDisruptionBudget",
          "Service",
          "ClusterRole",
          "RoleBinding",
        ]),
      );
    });

    it("accepts the RuntimeClass example the cluster operator applies (under another name)", async () => {
      // kata-fc itself belongs to the driver's scenarios on the same server; its scheduling would
      // reach their pods, so the example is checked under a name of its own.
      const example = load(
        readFileSync(join(BASE, "runtimeclass-kata-fc.example.yaml"), "utf8"),
      ) as KubeObject;
      const renamed = { ...example, metadata: { ...example.metadata, name: "kata-fc-example-check" } };
      try {
        expect(await apply.apply(renamed)).toMatchObject(renamed);
      } finally {
        await apply.delete(renamed);
      }
    });

    it("refuses a misspelled field deep in an object, so the acceptance above means something", async () => {
      const deployment = objects.find((o) => o.kind === "Deployment")!;
      const misspelled = JSON.parse(
        JSON.stringify(deployment).replace('"readinessProbe"', '"readinesProbe"'),
      ) as KubeObject;
      // Kubernetes 1.26 answers 500 here (later ones 400); the words are the same.
      await expect(apply.apply(misspelled)).rejects.toThrow(
        /containers\[name="remote-builder"\]\.readinesProbe: field not declared in schema/,
      );
    });
  });
} else {
  describe("deploy/overlays/tenant-zero applied to a real API server", () => {
    it.skip(`is skipped: ${server.skip}`, () => {});
  });
}

function rank(o: KubeObject): number {
  return o.kind === "Namespace" ? 0 : 1;
}
