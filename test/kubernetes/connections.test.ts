import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { KubeConfig } from "@kubernetes/client-node";
import { connectCluster } from "../../service/adapters/drivers/kubernetes/cluster.js";
import { kube } from "../../service/adapters/drivers/kubernetes/retry.js";
import { type FakeApiServer, startFakeApiServer } from "../harness/kube/api-server.js";
import { eventually } from "../harness/wait.js";

/**
 * The driver's API calls share connections: @kubernetes/client-node 2.x makes a new agent per
 * request, which connectCluster undoes (service/adapters/drivers/kubernetes/cluster.ts). Counted
 * as TLS handshakes at the API server.
 */
let server: FakeApiServer;
beforeAll(async () => {
  server = await startFakeApiServer({ validate: false });
});
afterAll(async () => {
  await server?.close();
});

function cluster(token: string) {
  const config = new KubeConfig();
  config.loadFromString(server.kubeconfigYaml({ token }));
  return connectCluster(config);
}

it("fifty calls in a row, over three API groups, share one or two connections", async () => {
  const { core, networking, coordination } = cluster("reuse");
  const before = server.handshakes();
  for (let i = 0; i < 50; i++) {
    await core.listNamespacedPod({ namespace: "default" });
    if (i % 10 === 0) await networking.listNamespacedNetworkPolicy({ namespace: "default" });
    if (i % 10 === 5) await coordination.listNamespacedLease({ namespace: "default" });
  }
  // Before: a handshake per call. The pool may open a second connection when a call starts while
  // the last response is still being read; after that, the two are reused.
  expect(server.handshakes() - before).toBeGreaterThanOrEqual(1);
  expect(server.handshakes() - before).toBeLessThanOrEqual(2);
});

it("calls in flight together open connections as needed, and the next calls reuse them", async () => {
  const { core } = cluster("parallel");
  const before = server.handshakes();
  await Promise.all(Array.from({ length: 4 }, () => core.listNamespacedPod({ namespace: "default" })));
  const opened = server.handshakes() - before;
  expect(opened).toBeGreaterThanOrEqual(1);
  expect(opened).toBeLessThanOrEqual(4);
  for (let i = 0; i < 20; i++) await core.listNamespacedPod({ namespace: "default" });
  expect(server.handshakes() - before).toBe(opened);
});

it("each kubeconfig keeps connections of its own: another identity never rides on them", async () => {
  const before = server.handshakes();
  await cluster("first").core.listNamespacedPod({ namespace: "default" });
  await cluster("second").core.listNamespacedPod({ namespace: "default" });
  expect(server.handshakes() - before).toBe(2);
  const users = server.requests
    .log()
    .slice(-2)
    .map((r) => r.user);
  expect(users).toEqual(["first", "second"]);
});

it("an attempt given up on is aborted: its connection closes instead of waiting for the answer", async () => {
  const { core } = cluster("abort");
  const before = await server.connections();
  server.faults.once({ verb: "get", resource: "pods", fault: "hang" }); // held 30 s unless closed
  const read = () => core.readNamespacedPod({ namespace: "default", name: "none" });
  await expect(kube("read pod", read, { attempts: 1, timeoutMs: 300 })).rejects.toMatchObject({
    reason: "Timeout",
  });
  await eventually(
    "the hung connection closing",
    async () => (await server.connections()) <= before,
    2_000,
  ).catch(
    () => {}, // the assertion below says what is left open
  );
  expect(await server.connections()).toBe(before);
});
