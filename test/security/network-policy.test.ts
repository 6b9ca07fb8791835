import { describe, expect, it } from "@jest/globals";
import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import {
  BUILDKIT_PORT,
  builderLabels,
  builderNetworkPolicy,
} from "../../service/adapters/drivers/kubernetes/objects.js";
import type { BuilderRole } from "../../service/adapters/drivers/kubernetes/labels.js";
import { loadConfig } from "../../service/config.js";
import {
  address,
  type Labels,
  NotCovered,
  pod,
  type PodEndpoint,
  PolicyEvaluator,
  type Protocol,
} from "../harness/network-policy.js";

/**
 * Issue 14: builders must not reach each other or the service. No CNI enforces NetworkPolicies in
 * the tests, so the driver's real policy is judged by an evaluator of Kubernetes' documented
 * semantics (test/harness/network-policy.ts), itself checked first against the documentation's
 * own examples.
 */

const PROTOCOLS: Protocol[] = ["TCP", "UDP", "SCTP"];

function policy(namespace: string, spec: object): object {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "p", namespace },
    spec,
  };
}

describe("the NetworkPolicy evaluator decides the Kubernetes documentation's examples as documented", () => {
  // concepts/services-networking/network-policies: "An example NetworkPolicy might look like this".
  const reference = policy("default", {
    podSelector: { matchLabels: { role: "db" } },
    policyTypes: ["Ingress", "Egress"],
    ingress: [
      {
        from: [
          { ipBlock: { cidr: "172.17.0.0/16", except: ["172.17.1.0/24"] } },
          { namespaceSelector: { matchLabels: { project: "myproject" } } },
          { podSelector: { matchLabels: { role: "frontend" } } },
        ],
        ports: [{ protocol: "TCP", port: 6379 }],
      },
    ],
    egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/24" } }], ports: [{ protocol: "TCP", port: 5978 }] }],
  });
  const namespaces = { default: {}, shop: { project: "myproject" }, other: {} };
  const ev = new PolicyEvaluator(namespaces, [reference]);
  const node = "192.168.0.10";
  const db = pod("default", { role: "db" }, "10.244.0.5", [node]);
  const frontend = pod("default", { role: "frontend" }, "10.244.0.6", [node]);

  it("db pods take TCP 6379 from role=frontend pods of their namespace, and only on TCP 6379", () => {
    expect(ev.allows({ from: frontend, to: db, port: 6379 })).toBe(true);
    expect(ev.allows({ from: frontend, to: db, port: 6380 })).toBe(false);
    expect(ev.allows({ from: frontend, to: db, port: 6379, protocol: "UDP" })).toBe(false);
  });

  it("db pods take any pod of a project=myproject namespace, but no role=frontend pod of another namespace", () => {
    const anyShopPod = pod("shop", { app: "whatever" }, "10.244.1.7", [node]);
    const foreignFrontend = pod("other", { role: "frontend" }, "10.244.1.8", [node]);
    expect(ev.allows({ from: anyShopPod, to: db, port: 6379 })).toBe(true);
    expect(ev.allows({ from: foreignFrontend, to: db, port: 6379 })).toBe(false);
  });

  it("db pods take 172.17.0.0–172.17.0.255 and 172.17.2.0–172.17.255.255, not the except /24 nor beyond", () => {
    const from = (ip: string) => ev.allows({ from: address(ip), to: db, port: 6379 });
    for (const ip of ["172.17.0.0", "172.17.0.255", "172.17.2.0", "172.17.255.255"])
      expect(from(ip)).toBe(true);
    for (const ip of ["172.17.1.0", "172.17.1.255", "172.16.255.255", "172.18.0.0"])
      expect(from(ip)).toBe(false);
  });

  it("db pods may open connections only to 10.0.0.0/24 on TCP 5978, not even to a frontend pod", () => {
    expect(ev.allows({ from: db, to: address("10.0.0.0"), port: 5978 })).toBe(true);
    expect(ev.allows({ from: db, to: address("10.0.0.255"), port: 5978 })).toBe(true);
    expect(ev.allows({ from: db, to: address("10.0.1.0"), port: 5978 })).toBe(false);
    expect(ev.allows({ from: db, to: address("10.0.0.7"), port: 5979 })).toBe(false);
    expect(ev.openPorts(db, frontend)).toEqual([]);
  });

  it("a pod that no policy selects is not isolated: it takes and opens anything", () => {
    const cache = pod("default", { role: "cache" }, "10.244.0.9", [node]);
    expect(ev.allows({ from: address("203.0.113.9"), to: cache, port: 22 })).toBe(true);
    expect(ev.allows({ from: cache, to: address("203.0.113.9"), port: 22, protocol: "UDP" })).toBe(true);
  });

  it("namespaceSelector and podSelector in one `from` element select pods matching both; in two, either", () => {
    const ns = { default: {}, alice: { user: "alice" }, bob: {} };
    const server = pod("default", { app: "server" }, "10.244.0.2", [node]);
    const aliceClient = pod("alice", { role: "client" }, "10.244.1.2", [node]);
    const aliceOther = pod("alice", { role: "other" }, "10.244.1.3", [node]);
    const localClient = pod("default", { role: "client" }, "10.244.0.3", [node]);
    const bobClient = pod("bob", { role: "client" }, "10.244.2.2", [node]);
    const alice = { matchLabels: { user: "alice" } };
    const client = { matchLabels: { role: "client" } };
    const and = new PolicyEvaluator(ns, [
      policy("default", {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: alice, podSelector: client }] }],
      }),
    ]);
    const or = new PolicyEvaluator(ns, [
      policy("default", {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: alice }, { podSelector: client }] }],
      }),
    ]);
    const verdicts = (e: PolicyEvaluator) =>
      [aliceClient, aliceOther, localClient, bobClient].map((from) =>
        e.allows({ from, to: server, port: 80 }),
      );
    expect(verdicts(and)).toEqual([true, false, false, false]);
    expect(verdicts(or)).toEqual([true, true, true, false]);
  });

  it("policies add up: a default-deny ingress policy and an allow-all one together admit everything", () => {
    const ns = { default: {} };
    const target = pod("default", {}, "10.244.0.2", [node]);
    const denyAll = policy("default", { podSelector: {}, policyTypes: ["Ingress"] });
    const allowAll = policy("default", { podSelector: {}, ingress: [{}], policyTypes: ["Ingress"] });
    const from = address("203.0.113.1");
    expect(new PolicyEvaluator(ns, [denyAll]).allows({ from, to: target, port: 80 })).toBe(false);
    expect(new PolicyEvaluator(ns, [denyAll, allowAll]).allows({ from, to: target, port: 80 })).toBe(true);
    // "This policy does not change the default egress isolation behavior."
    expect(new PolicyEvaluator(ns, [denyAll]).allows({ from: target, to: from, port: 80 })).toBe(true);
  });

  it("without policyTypes a policy restricts ingress, and egress too only when it has egress rules", () => {
    const ns = { default: {} };
    const target = pod("default", {}, "10.244.0.2", [node]);
    const out = address("10.0.0.9");
    const elsewhere = address("203.0.113.1");
    const noRules = new PolicyEvaluator(ns, [policy("default", { podSelector: {} })]);
    expect(noRules.allows({ from: elsewhere, to: target, port: 80 })).toBe(false);
    expect(noRules.allows({ from: target, to: elsewhere, port: 80 })).toBe(true);
    const egressRule = new PolicyEvaluator(ns, [
      policy("default", { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/24" } }] }] }),
    ]);
    expect(egressRule.allows({ from: target, to: out, port: 80 })).toBe(true);
    expect(egressRule.allows({ from: target, to: elsewhere, port: 80 })).toBe(false);
    expect(egressRule.allows({ from: elsewhere, to: target, port: 80 })).toBe(false);
  });

  it("between two pods, the source's egress and the destination's ingress must both allow", () => {
    const ns = { default: {} };
    const a = pod("default", { app: "a" }, "10.244.0.2", [node]);
    const b = pod("default", { app: "b" }, "10.244.0.3", [node]);
    const aOnlyToB = policy("default", {
      podSelector: { matchLabels: { app: "a" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: { matchLabels: { app: "b" } } }] }],
    });
    const bTakesNothing = policy("default", {
      podSelector: { matchLabels: { app: "b" } },
      policyTypes: ["Ingress"],
    });
    expect(new PolicyEvaluator(ns, [aOnlyToB]).allows({ from: a, to: b, port: 80 })).toBe(true);
    expect(new PolicyEvaluator(ns, [aOnlyToB, bTakesNothing]).allows({ from: a, to: b, port: 80 })).toBe(
      false,
    );
    expect(new PolicyEvaluator(ns, [aOnlyToB]).allows({ from: b, to: a, port: 80 })).toBe(true);
    expect(
      new PolicyEvaluator(ns, [aOnlyToB]).allows({ from: a, to: address("203.0.113.1"), port: 80 }),
    ).toBe(false);
  });

  it("endPort allows the range from port to endPort, both included", () => {
    // "Targeting a range of ports": egress to 10.0.0.0/24 on TCP 32000–32768.
    const ev = new PolicyEvaluator({ default: {} }, [
      policy("default", {
        podSelector: { matchLabels: { role: "db" } },
        policyTypes: ["Egress"],
        egress: [
          {
            to: [{ ipBlock: { cidr: "10.0.0.0/24" } }],
            ports: [{ protocol: "TCP", port: 32000, endPort: 32768 }],
          },
        ],
      }),
    ]);
    const to = address("10.0.0.1");
    const verdicts = [31999, 32000, 32768, 32769].map((port) => ev.allows({ from: db, to, port }));
    expect(verdicts).toEqual([false, true, true, false]);
  });

  it("openPorts answers as asking port by port would, for every port and protocol", () => {
    const ev = new PolicyEvaluator({ default: {} }, [
      policy("default", {
        podSelector: { matchLabels: { role: "db" } },
        ingress: [
          {
            ports: [
              { port: 6379 },
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 32000, endPort: 32768 },
            ],
          },
          { ports: [{ protocol: "SCTP" }, { protocol: "TCP", port: 6380 }] },
        ],
      }),
    ]);
    const asked: string[] = [];
    for (const protocol of PROTOCOLS) {
      for (let port = 1; port <= 65535; port++) {
        if (ev.allows({ from: frontend, to: db, port, protocol })) asked.push(`${protocol}/${port}`);
      }
    }
    const ranges = ev.openPorts(frontend, db);
    expect(ranges).toEqual(["TCP/6379-6380", "TCP/32000-32768", "UDP/53", "SCTP/1-65535"]);
    const expanded = ranges.flatMap((r) => {
      const [protocol, first, last = first] = r.split(/[/-]/);
      return Array.from(
        { length: Number(last) - Number(first) + 1 },
        (_, i) => `${protocol}/${Number(first) + i}`,
      );
    });
    expect(expanded).toEqual(asked);
  });

  it("a pod always reaches itself, and traffic between a pod and its own node is always allowed", () => {
    const isolated = new PolicyEvaluator({ default: {} }, [
      policy("default", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    ]);
    expect(isolated.allows({ from: db, to: db, port: 6379 })).toBe(true);
    expect(isolated.allows({ from: address(node), to: db, port: 6379 })).toBe(true);
    expect(isolated.allows({ from: db, to: address(node), port: 10250 })).toBe(true);
    expect(isolated.allows({ from: address("192.168.0.11"), to: db, port: 6379 })).toBe(false);
    expect(isolated.allows({ from: db, to: address("192.168.0.11"), port: 10250 })).toBe(false);
  });

  it("an ipBlock holds one address family; IPv6 is compared as numbers, however it is written", () => {
    const egressTo = (cidr: string) =>
      new PolicyEvaluator({ default: {} }, [
        policy("default", {
          podSelector: {},
          policyTypes: ["Egress"],
          egress: [{ to: [{ ipBlock: { cidr } }] }],
        }),
      ]);
    const out = (ev: PolicyEvaluator, ip: string) => ev.allows({ from: db, to: address(ip), port: 443 });
    expect(out(egressTo("0.0.0.0/0"), "2001:db8::1")).toBe(false);
    expect(out(egressTo("::/0"), "203.0.113.1")).toBe(false);
    expect(out(egressTo("::/0"), "2001:db8::1")).toBe(true);
    const docs = egressTo("2001:db8::/64");
    expect(out(docs, "2001:0db8:0000:0000:ffff:ffff:ffff:ffff")).toBe(true);
    expect(out(docs, "2001:db8:0:1::")).toBe(false);
    expect(out(egressTo("10.0.0.1/8"), "10.255.255.255")).toBe(true); // host bits ignored
  });

  it("a Service address gets an answer only when the address and its backends agree", () => {
    const backend = pod("default", { app: "api" }, "10.244.0.20", [node]);
    const onlyToServices = policy("default", {
      podSelector: { matchLabels: { role: "db" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "10.96.0.0/12" } }] }],
    });
    const viaService = {
      from: db,
      serviceIP: "10.96.5.5",
      port: 80,
      backends: [{ to: backend, port: 8080 }],
    };
    expect(() => new PolicyEvaluator({ default: {} }, [onlyToServices]).allowsViaService(viaService)).toThrow(
      /leaves undefined/,
    );
    expect(new PolicyEvaluator({ default: {} }, []).allowsViaService(viaService)).toBe(true);
    const backendClosed = policy("default", { podSelector: { matchLabels: { app: "api" } } });
    expect(new PolicyEvaluator({ default: {} }, [backendClosed]).allowsViaService(viaService)).toBe(false);
  });

  const ev1 = (spec: object) => new PolicyEvaluator({ default: {} }, [policy("default", spec)]);
  const ingressFrom = (peer: object) => ({ podSelector: {}, ingress: [{ from: [peer] }] });
  const fromElsewhere = { from: pod("unknown", {}, "10.244.9.9", [node]), to: db, port: 1 };
  const hostNetworkPod = pod("default", {}, node, [node]);

  const refused: Array<[string, () => unknown]> = [
    [
      "matchExpressions",
      () => ev1({ podSelector: { matchExpressions: [{ key: "a", operator: "Exists" }] } }),
    ],
    ["a named port", () => ev1({ podSelector: {}, ingress: [{ ports: [{ port: "http" }] }] })],
    [
      "ipBlock and a selector in one peer",
      () => ev1(ingressFrom({ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} })),
    ],
    ["an empty peer", () => ev1(ingressFrom({}))],
    ["an unknown field", () => ev1({ podSelector: {}, ingress: [{ _from: [{ podSelector: {} }] }] })],
    [
      "ingress rules in an Egress-only policy",
      () => ev1({ podSelector: {}, policyTypes: ["Egress"], ingress: [{}] }),
    ],
    ["an unknown policy type", () => ev1({ podSelector: {}, policyTypes: ["Both"] })],
    [
      "an except outside its cidr",
      () => ev1(ingressFrom({ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/8"] } })),
    ],
    ["an IPv4 address with leading zeros", () => ev1(ingressFrom({ ipBlock: { cidr: "010.0.0.0/8" } }))],
    [
      "an IPv6 address with a dotted tail",
      () => ev1(ingressFrom({ ipBlock: { cidr: "::ffff:10.0.0.0/104" } })),
    ],
    [
      "a namespace whose labels were not given",
      () => ev1(ingressFrom({ namespaceSelector: {} })).allows(fromElsewhere),
    ],
    ["a hostNetwork pod", () => ev1({ podSelector: {} }).allows({ ...fromElsewhere, from: hostNetworkPod })],
    [
      "an IPv4-mapped IPv6 address",
      () => ev1({ podSelector: {} }).allows({ from: db, to: address("::ffff:a00:1"), port: 1 }),
    ],
    [
      "a protocol other than TCP, UDP, SCTP",
      () => ev1({}).allows({ from: db, to: db, port: 1, protocol: "ICMP" as Protocol }),
    ],
  ];
  it.each(refused)("refuses %s rather than guess", (_what, attempt) => {
    expect(attempt).toThrow(NotCovered);
  });
});

// ---- The builders' policy in a realistic cluster ------------------------------------------------

/** The defaults, from the one reader of the environment (with only what it requires). */
const config = loadConfig({
  RB_DATABASE_URL: "postgres://u@127.0.0.1:5432/db",
  RB_REDIS_URL: "redis://127.0.0.1:6379",
  RB_ADMIN_TOKEN: "x".repeat(32),
  RB_DRIVER: "local",
});
const k8s = config.kubernetes;

/** What the driver puts in the cluster (maintenance.ts), as the client library sends it (`_from` → `from`). */
function buildersPolicy(blockedCidrs: string[] = k8s.blockedCidrs): unknown {
  return JSON.parse(
    JSON.stringify(ObjectSerializer.serialize(typedPolicy(blockedCidrs), "V1NetworkPolicy", "")),
  );
}

function typedPolicy(blockedCidrs: string[]): V1NetworkPolicy {
  return builderNetworkPolicy(k8s, {
    serviceNamespace: k8s.serviceNamespace,
    brokerLabels: k8s.brokerLabels,
    blockedCidrs,
  });
}

// Namespaces as deploy/base/namespaces.yaml labels them, plus the cluster's own and a tenant's.
const NAMESPACES: Record<string, Labels> = {
  [k8s.serviceNamespace]: {
    "app.kubernetes.io/name": "remote-builder",
    "app.kubernetes.io/part-of": "remote-builder",
  },
  [k8s.namespace]: { "app.kubernetes.io/part-of": "remote-builder" },
  "kube-system": {},
  "other-app": {},
};

// Pod CIDR 10.244.0.0/16 (a /24 per node), Service CIDR 10.96.0.0/12, nodes on 10.0.0.x and 192.168.x.
const NODE_A = "10.0.0.11";
const NODE_B = "10.0.0.12";
const NODE_SYSTEM = "192.168.10.5";
const CONTROL_PLANE = "10.0.0.2";

function builder(id: string, role: BuilderRole, ip: string, node: string): PodEndpoint {
  const account = role === "warm" ? null : `acc-${id}`;
  const labels = builderLabels({
    builderId: id,
    shapeName: "small",
    role,
    accountId: account,
    buildId: role === "serving" ? `build-${id}` : null,
    volume: account ? "buildkit" : null,
  });
  return pod(k8s.namespace, labels, ip, [node]);
}

const builderA = builder("rb-aaaaaaaaaaaa", "serving", "10.244.1.10", NODE_A);
const builderB = builder("rb-bbbbbbbbbbbb", "serving", "10.244.2.10", NODE_B);
const warmB = builder("rb-cccccccccccc", "warm", "10.244.2.11", NODE_B);
const idleA = builder("rb-dddddddddddd", "idle", "10.244.1.12", NODE_A);
/** A replica of the service (API, broker, metrics), labelled as deploy/base/deployment.yaml does. */
const BROKER_LABELS = { ...k8s.brokerLabels, "app.kubernetes.io/part-of": "remote-builder" };
const broker = pod(k8s.serviceNamespace, BROKER_LABELS, "10.244.3.20", [NODE_SYSTEM]);
const coredns = pod("kube-system", { "k8s-app": "kube-dns" }, "10.244.3.5", [NODE_SYSTEM]);

const cluster = () => new PolicyEvaluator(NAMESPACES, [buildersPolicy()]);

describe("the builders' NetworkPolicy, with the default RB_K8S_BLOCKED_CIDRS, attacked", () => {
  const ev = cluster();

  it("is judged as the API server receives it: the client library's typed object (`_from`) is refused", () => {
    expect(() => new PolicyEvaluator(NAMESPACES, [typedPolicy(k8s.blockedCidrs)])).toThrow(/_from/);
  });

  it("a builder opens nothing to another builder's pod: not buildkitd's 1234, no port at all", () => {
    expect(ev.openPorts(builderA, builderB)).toEqual([]);
    expect(ev.openPorts(builderA, warmB)).toEqual([]);
    expect(ev.openPorts(builderB, idleA)).toEqual([]);
  });

  it("a builder opens nothing to the service's pods: not the API and its /metrics, not the broker, no port", () => {
    expect(
      [config.port, config.broker.port].map((port) => ev.allows({ from: builderA, to: broker, port })),
    ).toEqual([false, false]);
    expect(ev.openPorts(builderA, broker)).toEqual([]);
  });

  it("a builder reaches no ClusterIP: not kube-dns 10.96.0.10:53, the API server 10.96.0.1:443, the service's API", () => {
    const dns = { from: builderA, serviceIP: "10.96.0.10", port: 53, backends: [{ to: coredns, port: 53 }] };
    expect(ev.allowsViaService({ ...dns, protocol: "UDP" })).toBe(false);
    expect(ev.allowsViaService({ ...dns, protocol: "TCP" })).toBe(false);
    const apiServer = { from: builderA, serviceIP: "10.96.0.1", port: 443 };
    expect(
      ev.allowsViaService({ ...apiServer, backends: [{ to: address(CONTROL_PLANE), port: 6443 }] }),
    ).toBe(false);
    const serviceApi = { from: builderA, serviceIP: "10.100.12.34", port: 80 };
    expect(ev.allowsViaService({ ...serviceApi, backends: [{ to: broker, port: config.port }] })).toBe(false);
  });

  it("a builder reaches no other node: not a kubelet (10250), a NodePort or SSH, on 10.0.0.x or 192.168.x", () => {
    for (const node of [NODE_B, NODE_SYSTEM, CONTROL_PLANE]) {
      for (const port of [10250, 10255, 30443, 22, 6443]) {
        expect(ev.allows({ from: builderA, to: address(node), port })).toBe(false);
      }
    }
  });

  it("a builder reaches no cloud metadata service: 169.254.169.254, Scaleway's 169.254.42.42, Alibaba's 100.100.100.200", () => {
    for (const ip of ["169.254.169.254", "169.254.42.42", "100.100.100.200"]) {
      expect(ev.allows({ from: builderA, to: address(ip), port: 80 })).toBe(false);
    }
  });

  it("a builder reaches the internet: a registry at 151.101.0.1:443, DNS at 8.8.8.8:53 over UDP and TCP", () => {
    expect(ev.allows({ from: builderA, to: address("151.101.0.1"), port: 443 })).toBe(true);
    expect(ev.allows({ from: builderA, to: address("8.8.8.8"), port: 53, protocol: "UDP" })).toBe(true);
    expect(ev.allows({ from: builderA, to: address("8.8.8.8"), port: 53, protocol: "TCP" })).toBe(true);
  });

  it("the broker reaches a builder on TCP 1234 and on nothing else", () => {
    expect(ev.openPorts(broker, builderA)).toEqual([`TCP/${BUILDKIT_PORT}`]);
    expect(ev.openPorts(broker, warmB)).toEqual([`TCP/${BUILDKIT_PORT}`]);
  });

  it("a pod with the broker's labels in another namespace reaches no builder (the namespaceSelector holds)", () => {
    const impostor = pod("other-app", BROKER_LABELS, "10.244.4.7", [NODE_SYSTEM]);
    expect(ev.openPorts(impostor, builderA)).toEqual([]);
  });

  it("a pod of the builders' namespace that is not the broker reaches no builder, even with the broker's labels", () => {
    const stray = pod(k8s.namespace, { app: "debug" }, "10.244.1.40", [NODE_A]);
    const lookalike = pod(k8s.namespace, BROKER_LABELS, "10.244.1.41", [NODE_A]);
    expect(ev.openPorts(stray, builderA)).toEqual([]);
    expect(ev.openPorts(lookalike, builderA)).toEqual([]);
  });

  it("a pod of the service's namespace without the broker's labels reaches no builder", () => {
    const job = pod(k8s.serviceNamespace, { "job-name": "migrate" }, "10.244.3.30", [NODE_SYSTEM]);
    expect(ev.openPorts(job, builderA)).toEqual([]);
  });

  it("nothing outside the cluster, nor another node, reaches a builder", () => {
    for (const ip of ["203.0.113.7", "8.8.8.8", NODE_B, NODE_SYSTEM]) {
      expect(ev.allows({ from: address(ip), to: builderA, port: BUILDKIT_PORT })).toBe(false);
    }
  });

  it("the default list has no IPv6 entry, so the policy has no IPv6 rule: builders get no IPv6 egress at all", () => {
    expect(k8s.blockedCidrs.some((c) => c.includes(":"))).toBe(false);
    for (const ip of ["2a04:4e42::1", "2001:4860:4860::8888", "fd00:ec2::254", "fe80::1"]) {
      expect(ev.allows({ from: builderA, to: address(ip), port: 443 })).toBe(false);
    }
  });
});

describe("what the builders' NetworkPolicy alone cannot do", () => {
  it("it cannot keep a builder off its own node (kubelet 10250 included): Kubernetes always allows a pod's own node", () => {
    const ev = cluster();
    expect(ev.allows({ from: builderA, to: address(NODE_A), port: 10250 })).toBe(true);
    // The same exception is what lets the kubelet's readiness probe reach buildkitd's port.
    expect(ev.allows({ from: address(NODE_A), to: builderA, port: BUILDKIT_PORT })).toBe(true);
  });

  it("RB_K8S_BLOCKED_CIDRS must include the cluster's pod and Service CIDRs: with pods on 240.0.0.0/16 (outside the list) builders reach the service's pods", () => {
    const ev = cluster();
    const outsideBroker = pod(k8s.serviceNamespace, BROKER_LABELS, "240.0.3.20", [NODE_SYSTEM]);
    const outsideBuilderA = builder("rb-eeeeeeeeeeee", "serving", "240.0.1.10", NODE_A);
    const outsideBuilderB = builder("rb-ffffffffffff", "serving", "240.0.2.10", NODE_B);
    // Allowed where ipBlock matches pod IPs, as Kubernetes' NetworkPolicy e2e tests expect (Calico);
    // a CNI that never matches pods by ipBlock (Cilium) denies it, but the policy does not say so.
    expect(ev.allows({ from: outsideBuilderA, to: outsideBroker, port: config.broker.port })).toBe(true);
    expect(ev.allows({ from: outsideBuilderA, to: outsideBroker, port: config.port })).toBe(true);
    // Builders still keep each other out, by their own ingress rule; nothing else in the cluster does.
    expect(ev.openPorts(outsideBuilderA, outsideBuilderB)).toEqual([]);
    // Listing the pod CIDR closes it.
    const listed = new PolicyEvaluator(NAMESPACES, [buildersPolicy([...k8s.blockedCidrs, "240.0.0.0/16"])]);
    expect(listed.openPorts(outsideBuilderA, outsideBroker)).toEqual([]);
  });

  it("RB_K8S_BLOCKED_CIDRS must include the Service CIDR too: a ClusterIP outside the list leaves the answer to the CNI", () => {
    const viaService = {
      from: builderA,
      serviceIP: "198.18.0.10",
      port: 53,
      protocol: "UDP" as const,
      backends: [{ to: coredns, port: 53 }],
    };
    expect(() => cluster().allowsViaService(viaService)).toThrow(/leaves undefined/);
    const listed = new PolicyEvaluator(NAMESPACES, [buildersPolicy([...k8s.blockedCidrs, "198.18.0.0/16"])]);
    expect(listed.allowsViaService(viaService)).toBe(false);
  });

  it("RB_K8S_BLOCKED_CIDRS must include the nodes' public addresses too: a node on a public IP is the internet to the policy", () => {
    const publicNode = "51.15.20.30";
    for (const port of [10250, 30443, 22]) {
      expect(cluster().allows({ from: builderA, to: address(publicNode), port })).toBe(true);
    }
    const listed = new PolicyEvaluator(NAMESPACES, [
      buildersPolicy([...k8s.blockedCidrs, `${publicNode}/32`]),
    ]);
    expect(listed.allows({ from: builderA, to: address(publicNode), port: 10250 })).toBe(false);
  });

  it("builders resolve through the node's resolver (dnsPolicy: Default), which the policy blocks on a private or link-local address", () => {
    const ev = cluster();
    const dns = (ip: string) => ev.allows({ from: builderA, to: address(ip), port: 53, protocol: "UDP" });
    // A VPC resolver (AWS's 169.254.169.253 or base+2, GCP's 169.254.169.254): no name resolves.
    expect([dns("169.254.169.253"), dns("10.0.0.2"), dns("169.254.169.254")]).toEqual([false, false, false]);
    // Only a public resolver, or one on the builder's own node, answers.
    expect([dns("8.8.8.8"), dns(NODE_A)]).toEqual([true, true]);
  });

  it("a builder dialling the broker's public load-balancer address gets the CNI's answer, not the policy's (the broker takes any internet client's mTLS anyway)", () => {
    const viaLoadBalancer = {
      from: builderA,
      serviceIP: "51.159.10.20",
      port: 443,
      backends: [{ to: broker, port: config.broker.port }],
    };
    expect(() => cluster().allowsViaService(viaLoadBalancer)).toThrow(/leaves undefined/);
  });

  it("an IPv6 entry opens the rest of IPv6: with only the pod CIDR listed, builders reach link-local fe80::/10 and AWS's fd00:ec2::254", () => {
    const ev = new PolicyEvaluator(NAMESPACES, [buildersPolicy([...k8s.blockedCidrs, "fd00:10:244::/56"])]);
    expect(ev.allows({ from: builderA, to: address("fd00:10:244:2::10"), port: 1234 })).toBe(false);
    expect(ev.allows({ from: builderA, to: address("2a04:4e42::1"), port: 443 })).toBe(true);
    expect(ev.allows({ from: builderA, to: address("fe80::1"), port: 80 })).toBe(true);
    expect(ev.allows({ from: builderA, to: address("fd00:ec2::254"), port: 80 })).toBe(true);
  });
});
