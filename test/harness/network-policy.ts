/**
 * Would Kubernetes NetworkPolicies let this connection through? Neither the fake API server nor a
 * bare kube-apiserver enforces policies (that is the CNI's job), so this answers from the policy
 * objects alone, with the semantics of the Kubernetes documentation (concepts: "Network Policies";
 * API reference: networking.k8s.io/v1 NetworkPolicy). It answers for the opening of a connection;
 * replies on an allowed connection are always allowed.
 *
 * Covered, and decided as documented:
 * - isolation per direction: a pod is restricted for ingress (egress) only if some policy in its
 *   namespace selects it with Ingress (Egress) in `policyTypes`; absent `policyTypes` means
 *   Ingress, plus Egress when the policy has egress rules;
 * - a connection between two pods needs both the source's egress and the destination's ingress;
 * - rules add up across policies; within a rule the peers are alternatives, and peers and ports
 *   must both match; absent or empty `from`/`to` (`ports`) match every peer (port);
 * - peers: `podSelector` (pods of the policy's namespace), `namespaceSelector` (every pod of the
 *   selected namespaces), both in one element (pods matching both), `ipBlock` with `except`
 *   (one address family per block; matched against pod IPs too, as Kubernetes' own NetworkPolicy
 *   e2e tests expect, though some CNIs, Cilium among them, never match pods by ipBlock);
 * - selectors by `matchLabels` (`{}` selects everything); every namespace carries the label
 *   `kubernetes.io/metadata.name` set by the control plane;
 * - ports: `protocol` (default TCP), a numeric `port`, `endPort`;
 * - the documented exceptions: a pod cannot block itself, and traffic to and from the node a pod
 *   runs on is always allowed;
 * - Service addresses (`allowsViaService`): the documentation leaves undefined whether a policy
 *   sees the Service address or the backend it is rewritten to, so both are evaluated and an
 *   answer is given only when they agree.
 *
 * Anything else throws NotCovered rather than guess: `matchExpressions`, named ports, unknown
 * fields (e.g. the client library's `_from` sent as is), rules of a type not in `policyTypes`,
 * hostNetwork pods (undefined in the documentation), protocols other than TCP, UDP and SCTP,
 * IPv4-mapped IPv6 addresses (they go on the wire as IPv4), and namespaces it was not told about.
 */

export type Labels = Readonly<Record<string, string>>;
export type Protocol = "TCP" | "UDP" | "SCTP";
const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];

/** A pod: where it is, what it is labelled, its address, and the addresses of the node it runs on. */
export interface PodEndpoint {
  kind: "pod";
  namespace: string;
  labels: Labels;
  ip: string;
  nodeIPs: readonly string[];
}
/** An address that is no pod's: outside the cluster, a node, a Service's virtual address. */
export interface AddressEndpoint {
  kind: "address";
  ip: string;
}
export type Endpoint = PodEndpoint | AddressEndpoint;

export interface Connection {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol?: Protocol;
}

/** A connection to a Service's address (ClusterIP or load balancer), which is rewritten to a backend. */
export interface ServiceConnection {
  from: Endpoint;
  serviceIP: string;
  port: number;
  protocol?: Protocol;
  backends: ReadonlyArray<{ to: Endpoint; port: number }>;
}

export class NotCovered extends Error {
  constructor(what: string) {
    super(`not covered by the NetworkPolicy evaluator: ${what}`);
    this.name = "NotCovered";
  }
}

export function pod(namespace: string, labels: Labels, ip: string, nodeIPs: readonly string[]): PodEndpoint {
  return { kind: "pod", namespace, labels, ip, nodeIPs };
}

export function address(ip: string): AddressEndpoint {
  return { kind: "address", ip };
}

/**
 * The cluster's policies (as stored: the wire JSON, not the client library's typed objects) and
 * the labels of its namespaces. Policies are read once, so a policy outside the subset fails here.
 */
export class PolicyEvaluator {
  private readonly policies: Policy[];

  constructor(
    private readonly namespaces: Readonly<Record<string, Labels>>,
    policies: readonly unknown[],
  ) {
    this.policies = policies.map(readPolicy);
  }

  allows(c: Connection): boolean {
    checkConnection(c);
    return this.egressAllows(c) && this.ingressAllows(c);
  }

  /**
   * Every protocol and port range on which `from` may open a connection to `to`, e.g. ["TCP/1234"].
   * A verdict can change only at the edges of the policies' port ranges, so one port decides each
   * stretch between two edges: the same answer as asking port by port, without 196,605 questions.
   */
  openPorts(from: Endpoint, to: Endpoint): string[] {
    const edges = [...this.portEdges()].sort((a, b) => a - b);
    const open: Array<{ protocol: Protocol; first: number; last: number }> = [];
    for (const protocol of PROTOCOLS) {
      for (const [i, first] of edges.slice(0, -1).entries()) {
        if (!this.allows({ from, to, port: first, protocol })) continue;
        const last = edges[i + 1]! - 1;
        const previous = open.at(-1);
        if (previous?.protocol === protocol && previous.last + 1 === first) previous.last = last;
        else open.push({ protocol, first, last });
      }
    }
    return open.map((r) => `${r.protocol}/${r.first === r.last ? r.first : `${r.first}-${r.last}`}`);
  }

  private portEdges(): Set<number> {
    const edges = new Set([1, 65536]);
    for (const p of this.policies) {
      for (const rule of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
        for (const r of rule.ports ?? []) edges.add(r.first).add(r.last + 1);
      }
    }
    return edges;
  }

  /**
   * Before rewriting, the source's egress sees the Service address; after, the backend. Ingress is
   * always checked at the backend, where the packet arrives. Both views must agree for every backend.
   */
  allowsViaService(s: ServiceConnection): boolean {
    if (s.backends.length === 0) throw new NotCovered("a Service with no backend (nothing answers)");
    const protocol = s.protocol;
    const toService: Connection = { from: s.from, to: address(s.serviceIP), port: s.port, protocol };
    checkConnection(toService);
    const views = s.backends.flatMap((b) => {
      const toBackend: Connection = { from: s.from, to: b.to, port: b.port, protocol };
      checkConnection(toBackend);
      return [
        this.egressAllows(toService) && this.ingressAllows(toBackend),
        this.egressAllows(toBackend) && this.ingressAllows(toBackend),
      ];
    });
    if (views.some((v) => v !== views[0])) {
      throw new NotCovered(
        `${s.serviceIP}:${s.port}: allowed to the Service address or to its backend but not both; ` +
          "Kubernetes leaves undefined which one a policy sees",
      );
    }
    return views[0]!;
  }

  private egressAllows(c: Connection): boolean {
    if (c.from.kind !== "pod") return true;
    if (alwaysAllowed(c.from, c.to)) return true;
    return this.restricts(c.from, "egress", (p, rule) => this.ruleAdmits(p, rule, c.to, c));
  }

  private ingressAllows(c: Connection): boolean {
    if (c.to.kind !== "pod") return true;
    if (alwaysAllowed(c.to, c.from)) return true;
    return this.restricts(c.to, "ingress", (p, rule) => this.ruleAdmits(p, rule, c.from, c));
  }

  /** Unrestricted if no policy isolates the pod in this direction; else some rule must admit. */
  private restricts(
    subject: PodEndpoint,
    direction: "ingress" | "egress",
    admits: (p: Policy, rule: Rule) => boolean,
  ): boolean {
    checkNotHostNetwork(subject);
    const isolating = this.policies.filter(
      (p) =>
        p.namespace === subject.namespace && selects(p.podSelector, subject.labels) && p[direction] !== null,
    );
    return isolating.length === 0 || isolating.some((p) => p[direction]!.some((rule) => admits(p, rule)));
  }

  /** Peers and ports must both match. */
  private ruleAdmits(p: Policy, rule: Rule, peer: Endpoint, c: Connection): boolean {
    const protocol = c.protocol ?? "TCP";
    const portMatches = rule.ports === null || rule.ports.some((r) => portInRange(r, protocol, c.port));
    const peerMatches = rule.peers === null || rule.peers.some((q) => this.peerMatches(p, q, peer));
    return portMatches && peerMatches;
  }

  private peerMatches(p: Policy, q: Peer, peer: Endpoint): boolean {
    if (q.ipBlock) return inBlock(q.ipBlock, parseAddress(peer.ip));
    if (peer.kind !== "pod") return false;
    checkNotHostNetwork(peer);
    const namespaceMatches = q.namespaceSelector
      ? selects(q.namespaceSelector, this.namespaceLabels(peer.namespace))
      : peer.namespace === p.namespace;
    return namespaceMatches && (q.podSelector === null || selects(q.podSelector, peer.labels));
  }

  private namespaceLabels(name: string): Labels {
    const labels = this.namespaces[name];
    if (!labels) throw new NotCovered(`the labels of namespace ${name} (not given)`);
    return { ...labels, "kubernetes.io/metadata.name": name };
  }
}

/** "A pod cannot block access to itself"; "traffic to and from the node where a Pod is running is always allowed". */
function alwaysAllowed(subject: PodEndpoint, peer: Endpoint): boolean {
  return [subject.ip, ...subject.nodeIPs].some((ip) => sameAddress(ip, peer.ip));
}

/** A pod with its node's address is on the host network, for which policies are not defined. */
function checkNotHostNetwork(p: PodEndpoint): void {
  if (p.nodeIPs.some((ip) => sameAddress(ip, p.ip))) throw new NotCovered(`hostNetwork pod ${p.ip}`);
}

function checkConnection(c: Connection): void {
  if (c.protocol !== undefined && !PROTOCOLS.includes(c.protocol)) {
    throw new NotCovered(`protocol ${c.protocol}`);
  }
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new NotCovered(`port ${c.port}`);
  for (const e of [c.from, c.to]) {
    parseAddress(e.ip);
    if (e.kind === "pod") e.nodeIPs.forEach(parseAddress);
  }
}

// ---- The policy objects, read strictly -------------------------------------------------------

interface Selector {
  matchLabels: Labels;
}
interface Block {
  cidr: Cidr;
  except: Cidr[];
}
interface Peer {
  podSelector: Selector | null;
  namespaceSelector: Selector | null;
  ipBlock: Block | null;
}
interface PortRange {
  protocol: Protocol;
  first: number;
  last: number;
}
interface Rule {
  /** null: every peer. */
  peers: Peer[] | null;
  /** null: every port and protocol. */
  ports: PortRange[] | null;
}
interface Policy {
  namespace: string;
  podSelector: Selector;
  /** null: the policy does not apply in that direction. */
  ingress: Rule[] | null;
  egress: Rule[] | null;
}

type Json = Record<string, unknown>;

function object(value: unknown, where: string, allowed: readonly string[]): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new NotCovered(`${where} is not an object`);
  }
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new NotCovered(`${where}.${unknown.join(", ")}`);
  return value as Json;
}

function list(value: unknown, where: string): unknown[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw new NotCovered(`${where} is not a list`);
  return value;
}

function readPolicy(raw: unknown): Policy {
  const o = object(raw, "policy", ["apiVersion", "kind", "metadata", "spec"]);
  if (o.apiVersion !== "networking.k8s.io/v1" || o.kind !== "NetworkPolicy") {
    throw new NotCovered(`${String(o.apiVersion)} ${String(o.kind)}`);
  }
  const meta = o.metadata as { name?: string; namespace?: string } | undefined;
  if (!meta?.namespace) throw new NotCovered("a policy without metadata.namespace");
  const where = `NetworkPolicy ${meta.namespace}/${meta.name ?? "?"}`;
  const spec = object(o.spec, `${where} spec`, ["podSelector", "policyTypes", "ingress", "egress"]);
  const ingress = list(spec.ingress, `${where} ingress`) ?? [];
  const egress = list(spec.egress, `${where} egress`) ?? [];
  const types = policyTypes(spec.policyTypes, egress.length > 0, where);
  if ((!types.has("Ingress") && ingress.length > 0) || (!types.has("Egress") && egress.length > 0)) {
    throw new NotCovered(`${where}: rules of a type not in policyTypes`);
  }
  return {
    namespace: meta.namespace,
    podSelector: readSelector(spec.podSelector ?? {}, `${where} podSelector`),
    ingress: types.has("Ingress")
      ? ingress.map((r, i) => readRule(r, "from", `${where} ingress[${i}]`))
      : null,
    egress: types.has("Egress") ? egress.map((r, i) => readRule(r, "to", `${where} egress[${i}]`)) : null,
  };
}

/** As documented: absent (or empty), Ingress, and Egress too if the policy has egress rules. */
function policyTypes(value: unknown, hasEgressRules: boolean, where: string): Set<string> {
  const given = list(value, `${where} policyTypes`) ?? [];
  if (given.length === 0) return new Set(hasEgressRules ? ["Ingress", "Egress"] : ["Ingress"]);
  const unknown = given.filter((t) => t !== "Ingress" && t !== "Egress");
  if (unknown.length > 0) throw new NotCovered(`${where} policyTypes ${unknown.join(", ")}`);
  return new Set(given as string[]);
}

function readRule(raw: unknown, peersKey: "from" | "to", where: string): Rule {
  const o = object(raw, where, [peersKey, "ports"]);
  const peers = list(o[peersKey], `${where}.${peersKey}`);
  const ports = list(o.ports, `${where}.ports`);
  return {
    peers: peers && peers.length > 0 ? peers.map((p, i) => readPeer(p, `${where}.${peersKey}[${i}]`)) : null,
    ports: ports && ports.length > 0 ? ports.map((p, i) => readPort(p, `${where}.ports[${i}]`)) : null,
  };
}

function readPeer(raw: unknown, where: string): Peer {
  const o = object(raw, where, ["podSelector", "namespaceSelector", "ipBlock"]);
  const selector = (key: string) => (o[key] == null ? null : readSelector(o[key], `${where}.${key}`));
  const peer = {
    podSelector: selector("podSelector"),
    namespaceSelector: selector("namespaceSelector"),
    ipBlock: o.ipBlock == null ? null : readBlock(o.ipBlock, `${where}.ipBlock`),
  };
  // The API refuses both; the evaluator refuses them too rather than pick a meaning.
  if (peer.ipBlock && (peer.podSelector || peer.namespaceSelector)) {
    throw new NotCovered(`${where}: ipBlock with a selector`);
  }
  if (!peer.ipBlock && !peer.podSelector && !peer.namespaceSelector) {
    throw new NotCovered(`${where}: empty peer`);
  }
  return peer;
}

function readSelector(raw: unknown, where: string): Selector {
  const o = object(raw, where, ["matchLabels", "matchExpressions"]);
  if ((list(o.matchExpressions, `${where}.matchExpressions`) ?? []).length > 0) {
    throw new NotCovered(`${where}.matchExpressions`);
  }
  const labels = o.matchLabels ?? {};
  if (
    typeof labels !== "object" ||
    Array.isArray(labels) ||
    Object.values(labels).some((v) => typeof v !== "string")
  ) {
    throw new NotCovered(`${where}.matchLabels`);
  }
  return { matchLabels: labels as Labels };
}

function readBlock(raw: unknown, where: string): Block {
  const o = object(raw, where, ["cidr", "except"]);
  const cidr = parseCidr(String(o.cidr));
  const except = (list(o.except, `${where}.except`) ?? []).map((e) => parseCidr(String(e)));
  if (except.some((e) => e.family !== cidr.family || e.prefix < cidr.prefix || !inCidr(cidr, e))) {
    throw new NotCovered(`${where}: an except outside the cidr (the API refuses it)`);
  }
  return { cidr, except };
}

function readPort(raw: unknown, where: string): PortRange {
  const o = object(raw, where, ["protocol", "port", "endPort"]);
  const protocol = (o.protocol ?? "TCP") as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw new NotCovered(`${where} protocol ${String(protocol)}`);
  if (o.port === undefined || o.port === null) {
    if (o.endPort != null) throw new NotCovered(`${where}: endPort without port`);
    return { protocol, first: 1, last: 65535 };
  }
  if (typeof o.port !== "number") throw new NotCovered(`${where}: named port ${String(o.port)}`);
  const last = o.endPort == null ? o.port : Number(o.endPort);
  if (!(last >= o.port)) throw new NotCovered(`${where}: endPort below port`);
  return { protocol, first: o.port, last };
}

function selects(s: Selector, labels: Labels): boolean {
  return Object.entries(s.matchLabels).every(([k, v]) => labels[k] === v);
}

function portInRange(r: PortRange, protocol: Protocol, port: number): boolean {
  return r.protocol === protocol && port >= r.first && port <= r.last;
}

// ---- Addresses ---------------------------------------------------------------------------------

interface Address {
  family: 4 | 6;
  value: bigint;
}
interface Cidr extends Address {
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

function inBlock(b: Block, a: Address): boolean {
  return inCidr(b.cidr, a) && !b.except.some((e) => inCidr(e, a));
}

/** Same family, and the same leading `prefix` bits (host bits in the CIDR are ignored, as the API does). */
function inCidr(c: Cidr, a: Address): boolean {
  const shift = BigInt(BITS[c.family] - c.prefix);
  return a.family === c.family && a.value >> shift === c.value >> shift;
}

function parseCidr(text: string): Cidr {
  const [ip = "", prefix = "", ...rest] = text.split("/");
  const a = parseIP(ip);
  const n = Number(prefix);
  if (rest.length > 0 || !/^\d{1,3}$/.test(prefix) || n > BITS[a.family]) {
    throw new NotCovered(`CIDR ${text}`);
  }
  return { ...a, prefix: n };
}

/** A connection's address: an IPv4-mapped IPv6 one would be sent as IPv4, so it is refused. */
function parseAddress(text: string): Address {
  const a = parseIP(text);
  if (a.family === 6 && a.value >> 32n === 0xffffn) throw new NotCovered(`IPv4-mapped address ${text}`);
  return a;
}

function sameAddress(a: string, b: string): boolean {
  const [x, y] = [parseIP(a), parseIP(b)];
  return x.family === y.family && x.value === y.value;
}

/** Parsed once per text: the same few addresses are asked about many times. */
const parsed = new Map<string, Address>();

function parseIP(text: string): Address {
  let a = parsed.get(text);
  if (!a) {
    a = text.includes(":") ? { family: 6, value: parseIPv6(text) } : { family: 4, value: parseIPv4(text) };
    parsed.set(text, a);
  }
  return a;
}

function parseIPv4(text: string): bigint {
  const parts = text.split(".");
  // Leading zeros are refused: some parsers read them as octal.
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
    throw new NotCovered(`IPv4 address ${text}`);
  }
  return parts.reduce((v, p) => (v << 8n) | BigInt(p), 0n);
}

/** Hexadecimal groups with at most one `::`; dotted IPv4 tails and zones are refused. */
function parseIPv6(text: string): bigint {
  const halves = text.split("::");
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const [head, tail] = [groups(halves[0]), groups(halves[1])];
  const missing = 8 - head.length - tail.length;
  const all = [...head, ...Array<string>(Math.max(missing, 0)).fill("0"), ...tail];
  const valid =
    halves.length <= 2 &&
    (halves.length === 2 ? missing >= 1 : missing === 0) &&
    all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g));
  if (!valid) throw new NotCovered(`IPv6 address ${text}`);
  return all.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n);
}
