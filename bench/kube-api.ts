/**
 * Kubernetes API call cost: `npm run bench:kube`.
 *
 * The driver's own clients (`connectCluster`, @kubernetes/client-node) against the fake API
 * server's real TLS on loopback: BENCH_CALLS (default 400) reads of one pod and as many lists of
 * the namespace's pods, one after another as the fleet maintenance makes them. Beside them, in the
 * same process, the baseline: the same read as a one-shot HTTPS request that opens a connection
 * of its own (a new TLS handshake per call, what a client without keep-alive pays).
 *
 * The last line is `RESULT per_call_ms=<n> baseline_new_connection_ms=<n> ratio=<n>
 * handshakes=<n> calls=<n>`: the client's median per call, the baseline's median, their ratio,
 * and the TLS handshakes the server saw for the client's calls.
 */
import { request } from "node:https";
import { performance } from "node:perf_hooks";
import { KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { connectCluster } from "../service/adapters/drivers/kubernetes/cluster.js";
import { startFakeApiServer } from "../test/harness/kube/api-server.js";
import { percentile } from "./support.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 400);
const log = (line: string) => process.stdout.write(`${line}\n`);

async function timed(calls: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

const median = (samples: number[]) => percentile(samples, 50);

async function main(): Promise<void> {
  const server = await startFakeApiServer({ validate: false });
  try {
    const token = "bench";
    const config = new KubeConfig();
    config.loadFromString(server.kubeconfigYaml({ token }));
    const cluster = connectCluster(config);
    const pod: V1Pod = {
      metadata: { name: "p", labels: { app: "bench" } },
      spec: { containers: [{ name: "c", image: "x" }] },
    };
    await cluster.core.createNamespacedPod({ namespace: "default", body: pod });
    await timed(20, () => cluster.core.readNamespacedPod({ namespace: "default", name: "p" })); // warm-up

    const before = server.handshakes();
    const reads = await timed(CALLS, () =>
      cluster.core.readNamespacedPod({ namespace: "default", name: "p" }),
    );
    const lists = await timed(CALLS, () =>
      cluster.core.listNamespacedPod({ namespace: "default", labelSelector: "app=bench" }),
    );
    const handshakes = server.handshakes() - before;

    const url = new URL(`${server.url}/api/v1/namespaces/default/pods/p`);
    const baseline = await timed(CALLS, () => oneShot(url, server.caPem, token));

    const perCall = median([...reads, ...lists]);
    log(`reads: median ${median(reads).toFixed(3)} ms; lists: median ${median(lists).toFixed(3)} ms`);
    log(`baseline (one-shot HTTPS, new connection per call): median ${median(baseline).toFixed(3)} ms`);
    log(`TLS handshakes for ${CALLS * 2} client calls: ${handshakes}`);
    log(
      `RESULT per_call_ms=${perCall.toFixed(3)} baseline_new_connection_ms=${median(baseline).toFixed(3)} ` +
        `ratio=${(perCall / median(baseline)).toFixed(2)} handshakes=${handshakes} calls=${CALLS * 2}`,
    );
  } finally {
    await server.close();
  }
}

function oneShot(url: URL, ca: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end();
  });
}

await main();
