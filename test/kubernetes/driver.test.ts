import { describe, expect, it } from "@jest/globals";
import { http } from "../harness/context.js";
import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import { completeBuild, echo, readyBuild, until } from "../drivers/support.js";
import { driverScenarios } from "./scenarios.js";
import { startKubeRig } from "./support.js";

describe("the kubernetes driver against the fake API server", () => {
  driverScenarios((o) => startKubeRig(o));

  it("a late or retried terminate for a finished build leaves alone the builder a later build took", async () => {
    const rig = await startKubeRig();
    try {
      const service = await rig.start("replica-1");
      const account = await service.account();
      const first = await readyBuild(service, account, { waitSeconds: 10 });
      // The release to the idle pool takes effect but its answer is lost: the retry must not undo
      // a later build's claim on the pod, nor delete it.
      rig.api!.faults.once({ verb: "patch", resource: "pods", fault: "afterEffect" });
      await completeBuild(service, first);
      const second = await readyBuild(service, account, { waitSeconds: 10 });
      expect(second.tier).toBe("idle");
      expect(rig.api!.faults.injected.afterEffect).toBe(1);
      const pod = (await rig.list<V1Pod>("pods")).find(
        (p) => p.metadata!.labels![LABELS.build] === second.id,
      )!;
      await service.kube.terminate(pod.metadata!.name!, first.id);
      const after = (await rig.list<V1Pod>("pods")).find((p) => p.metadata!.name === pod.metadata!.name)!;
      expect(after.metadata!.labels![LABELS.role]).toBe("serving");
      expect(after.metadata!.labels![LABELS.build]).toBe(second.id);
      expect(await echo(service, second, "still mine\n")).toBe("still mine\n");
      await completeBuild(service, second);
    } finally {
      await rig.close();
    }
  });

  it("a cluster that refuses builders gets the build a 503 that says why, and holds nothing", async () => {
    const rig = await startKubeRig();
    try {
      const service = await rig.start("replica-1");
      const account = await service.account();
      rig.api!.faults.set({ errorRate: 1, statuses: [503], verbs: ["create"], resources: ["pods"] });
      const refused = await http(service.url, "POST", "/api/v1/builds", { token: account.token, body: {} });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: expect.stringMatching(/\/problems\/unavailable$/) });
      expect(String(refused.body.detail)).toMatch(
        /^No builder could be started \(create pod rb-[0-9a-f]{12}: 503/,
      );
      expect(refused.headers.get("retry-after")).toBe("15");
      // Its claims were given back: the account's one slot serves the next build at once.
      rig.api!.faults.clear();
      const next = await readyBuild(service, account, { waitSeconds: 10 });
      expect(next.state).toBe("ready");
    } finally {
      await rig.close();
    }
  });

  it("leaves the builders' NetworkPolicy alone while it is as configured (no write per pass)", async () => {
    const rig = await startKubeRig();
    try {
      const service = await rig.start("replica-1");
      await until("the NetworkPolicy", async () => (await rig.list("networkpolicies")).length === 1);
      rig.api!.requests.reset();
      for (let pass = 0; pass < 5; pass++) await service.kube.maintain([]);
      expect(rig.api!.requests.count("get", "networkpolicies")).toBeGreaterThanOrEqual(5);
      expect(rig.api!.requests.count("update", "networkpolicies")).toBe(0);
    } finally {
      await rig.close();
    }
  });
});
