import { beforeAll, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { ConfigError, loadConfig, VARIABLES } from "../../service/config.js";
import { MODELS, objectProblems as problems } from "../harness/kube-schema.js";
import { BASE, type KubeObject, type Obj, obj, OVERLAY, parse, render, ROOT } from "./render.js";

/**
 * deploy/: the Kustomize base and the tenant-zero overlay, rendered the way the deploy workflow
 * renders them (`kubectl kustomize`), every object validated against Kubernetes' OpenAPI schemas,
 * and the properties the service and the rollout depend on checked one by one.
 */

const IMAGE = "remote-builder:latest";

const SERVICE_NAMESPACE = "remote-builder";
const BUILDERS_NAMESPACE = "remote-builder-builders";
const SERVICE_ACCOUNT = { kind: "ServiceAccount", name: "remote-builder", namespace: SERVICE_NAMESPACE };
const SECRET = "remote-builder-secrets";

/** The kubernetes driver's variables, with the defaults the base must spell out. */
const K8S_DEFAULTS: Record<string, string> = {
  RB_K8S_NAMESPACE: BUILDERS_NAMESPACE,
  RB_K8S_SERVICE_NAMESPACE: SERVICE_NAMESPACE,
  RB_K8S_LEASE_NAME: "remote-builder-reconciler",
  RB_K8S_RUNTIME_CLASS: "kata-fc",
  RB_K8S_STORAGE_CLASS: "scw-local-nvme",
  RB_K8S_VOLUME_MODE: "Block",
  RB_K8S_NODE_SELECTOR: '{"kubernetes.io/os":"linux"}',
  RB_K8S_TOLERATIONS: "[]",
  RB_K8S_BROKER_LABELS: '{"app.kubernetes.io/name":"remote-builder"}',
  RB_K8S_BLOCKED_CIDRS: '["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16","100.64.0.0/10","169.254.0.0/16"]',
  RB_K8S_NODE_GRACE_SECONDS: "300",
  RB_K8S_NODE_BUDGET_GIB: "1500",
  RB_VOLUME_RETENTION_DAYS: "30",
  RB_BUILDER_IDLE_TTL_SECONDS: "600",
};
/** Images the driver runs, each pinned by digest. */
const DIGEST_IMAGES = ["RB_K8S_BUILDKIT_IMAGE", "RB_K8S_FORMAT_IMAGE"];
const DIGEST = /^[^@\s]+@sha256:[0-9a-f]{64}$/;
/** Every RB_K8S_* and RB_VOLUME_* name the service reads (set by the Deployment or the ConfigMap). */
const K8S_KEYS = new Set([...Object.keys(K8S_DEFAULTS), ...DIGEST_IMAGES, "RB_K8S_IDENTITY"]);

// ---------------------------------------------------------------------------------------------
// Rendering and parsing

const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

class Rendered {
  constructor(
    readonly text: string,
    readonly objects: KubeObject[],
  ) {}

  all(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  one(kind: string, name: string, namespace?: string): KubeObject {
    const found = this.objects.filter(
      (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    if (found.length !== 1)
      throw new Error(`expected one ${kind} ${namespace ?? ""}/${name}, found ${found.length}`);
    return found[0]!;
  }

  get configMap(): Record<string, string> {
    return obj(this.one("ConfigMap", "remote-builder", SERVICE_NAMESPACE).data) as Record<string, string>;
  }

  get deployment(): KubeObject {
    return this.one("Deployment", "remote-builder", SERVICE_NAMESPACE);
  }

  get podTemplate(): Obj {
    return obj(obj(this.deployment.spec).template);
  }

  get podSpec(): Obj {
    return obj(this.podTemplate.spec);
  }

  get container(): Obj {
    const containers = list(this.podSpec.containers);
    expect(containers).toHaveLength(1);
    return containers[0]!;
  }
}

/** The variables the service reads. */
const CONFIG_KEYS = new Set(VARIABLES.map((v) => v.name));

/** What service/config.ts refuses in `env`, or [] when it starts. */
function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const matches = (selector: unknown, labels: Record<string, string>) =>
  Object.entries(obj(selector)).every(([k, v]) => labels[k] === v);

let base: Rendered;
let overlay: Rendered;

beforeAll(async () => {
  const [b, o] = await Promise.all([render(BASE), render(OVERLAY)]);
  base = new Rendered(b, parse(b));
  overlay = new Rendered(o, parse(o));
});

const both = () =>
  [
    ["base", base],
    ["tenant-zero", overlay],
  ] as const;

describe("the validation itself", () => {
  it("finds a schema for every kind by apiVersion and kind", () => {
    expect(MODELS.get("apps/v1/Deployment")?.kind).toBe("Deployment");
    expect(MODELS.get("v1/ConfigMap")?.kind).toBe("ConfigMap");
    expect(MODELS.get("rbac.authorization.k8s.io/v1/ClusterRole")?.kind).toBe("ClusterRole");
    expect(MODELS.size).toBeGreaterThan(100);
  });

  const deployment = (spec: Obj): Obj => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "broken" },
    spec: {
      selector: { matchLabels: { app: "x" } },
      template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "x" }] } },
      ...spec,
    },
  });

  it("accepts a sound object", () => {
    expect(problems([deployment({ replicas: 2 })])).toEqual([]);
  });

  it("refuses a field of the wrong type", () => {
    expect(problems([deployment({ replicas: "two" })])).toEqual([
      expect.stringMatching(/^Deployment broken: .*replicas must be integer/),
    ]);
  });

  it("refuses a missing required field", () => {
    expect(problems([deployment({ selector: undefined })]).join("\n")).toMatch(/selector/);
  });

  it("refuses a misspelled field anywhere in the object", () => {
    const pod = {
      metadata: { labels: { app: "x" } },
      spec: { containers: [{ name: "x", image: "x", readinesProbe: { httpGet: { port: 80 } } }] },
    };
    expect(problems([deployment({ replicas: 1, template: pod })])).toEqual([
      "Deployment broken: unknown field Deployment.spec.template.spec.containers[0].readinesProbe",
    ]);
  });

  it("refuses a kind Kubernetes does not have", () => {
    expect(problems([{ apiVersion: "apps/v1", kind: "Deploymnet", metadata: { name: "x" } }])).toContain(
      "Deploymnet x: no schema for apps/v1/Deploymnet",
    );
  });
});

describe("deploy/ renders", () => {
  it("the base and the overlay into the same set of objects", () => {
    const ids = (r: Rendered) =>
      r.objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    expect(ids(base).sort()).toEqual(ids(overlay).sort());
    expect(ids(base).sort()).toEqual(
      [
        "ClusterRole /remote-builder-node-repair",
        "ClusterRoleBinding /remote-builder-node-repair",
        "ConfigMap remote-builder/remote-builder",
        "Deployment remote-builder/remote-builder",
        "Namespace /remote-builder",
        "Namespace /remote-builder-builders",
        "PodDisruptionBudget remote-builder/remote-builder",
        "Role remote-builder-builders/remote-builder",
        "Role remote-builder/remote-builder-leader-election",
        "RoleBinding remote-builder-builders/remote-builder",
        "RoleBinding remote-builder/remote-builder-leader-election",
        "Service remote-builder/remote-builder",
        "Service remote-builder/remote-builder-broker",
        "ServiceAccount remote-builder/remote-builder",
      ].sort(),
    );
  });

  it.each(["base", "tenant-zero"])("%s: every object is valid against the Kubernetes schemas", (name) => {
    const rendered = name === "base" ? base : overlay;
    expect(rendered.objects.length).toBeGreaterThan(0);
    expect(problems(rendered.objects)).toEqual([]);
  });

  it("no Secret: the operator creates them, nothing secret is committed", () => {
    for (const [, r] of both()) {
      expect(r.all("Secret")).toEqual([]);
      expect(r.text).not.toMatch(/RB_ADMIN_TOKEN|RB_DATABASE_URL|RB_REDIS_URL|PRIVATE KEY/);
    }
  });

  it("the RuntimeClass only as an example the cluster operator applies", () => {
    const example = load(readFileSync(join(BASE, "runtimeclass-kata-fc.example.yaml"), "utf8")) as Obj;
    expect(problems([example])).toEqual([]);
    expect(example).toMatchObject({
      kind: "RuntimeClass",
      metadata: { name: K8S_DEFAULTS.RB_K8S_RUNTIME_CLASS },
      handler: "kata-fc",
      overhead: { podFixed: { memory: "160Mi", cpu: "250m" } },
      scheduling: { nodeSelector: expect.any(Object) },
    });
    expect(readFileSync(join(BASE, "kustomization.yaml"), "utf8")).not.toMatch(/^\s*-\s*runtimeclass/m);
    for (const [, r] of both()) expect(r.all("RuntimeClass")).toEqual([]);
  });
});

describe("the rollout", () => {
  it("finds `image: remote-builder:latest` exactly once in the rendered overlay", () => {
    expect(overlay.text.split("\n").filter((line) => line.includes(IMAGE))).toEqual([
      `        image: ${IMAGE}`,
    ]);
    expect(overlay.container.image).toBe(IMAGE);
  });

  it("swaps in the pushed digest with the workflow's sed and nothing else changes", () => {
    const pushed = `ghcr.io/tuist/remote-builder@sha256:${"ab".repeat(32)}`;
    const rolled = new Rendered("", parse(overlay.text.replaceAll(`image: ${IMAGE}`, `image: ${pushed}`)));
    expect(rolled.container.image).toBe(pushed);
    const withoutImage = (r: Rendered) => JSON.stringify(r.objects).replaceAll(pushed, IMAGE);
    expect(withoutImage(rolled)).toBe(JSON.stringify(overlay.objects));
    expect(rolled.deployment.metadata).toMatchObject({ name: "remote-builder", namespace: "remote-builder" });
  });
});

describe("RBAC is least privilege", () => {
  const rules = (r: Rendered, kind: string, name: string, namespace?: string) =>
    list(r.one(kind, name, namespace).rules).map((rule) => ({
      apiGroups: strings(rule.apiGroups),
      resources: strings(rule.resources),
      verbs: strings(rule.verbs),
      ...(rule.resourceNames ? { resourceNames: strings(rule.resourceNames) } : {}),
    }));

  it("grants no wildcard and no escalation anywhere", () => {
    for (const [, r] of both()) {
      for (const role of [...r.all("Role"), ...r.all("ClusterRole")]) {
        expect(role.aggregationRule).toBeUndefined();
        for (const rule of list(role.rules)) {
          for (const field of ["apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"]) {
            expect(strings(rule[field])).not.toContain("*");
          }
          expect(strings(rule.verbs)).not.toEqual(
            expect.arrayContaining([expect.stringMatching(/^(escalate|bind|impersonate)$/)]),
          );
        }
      }
    }
  });

  it("in the builders' namespace: builder pods, their Secrets, volumes and NetworkPolicies", () => {
    expect(rules(base, "Role", "remote-builder", BUILDERS_NAMESPACE)).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "delete", "patch"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["get"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "delete"] },
      {
        apiGroups: [""],
        resources: ["persistentvolumeclaims"],
        verbs: ["get", "list", "watch", "create", "delete", "patch"],
      },
      {
        apiGroups: ["networking.k8s.io"],
        resources: ["networkpolicies"],
        verbs: ["get", "list", "watch", "create", "patch", "update"],
      },
    ]);
  });

  it("in the service's namespace: only the leader-election Lease, no Secrets", () => {
    const roles = base.all("Role").filter((r) => r.metadata.namespace === SERVICE_NAMESPACE);
    expect(roles.map((r) => r.metadata.name)).toEqual(["remote-builder-leader-election"]);
    expect(rules(base, "Role", "remote-builder-leader-election", SERVICE_NAMESPACE)).toEqual([
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "list", "watch", "create", "update", "patch"],
      },
    ]);
  });

  it("cluster-wide: read nodes, read and delete PersistentVolumes, and no pods or secrets", () => {
    expect(base.all("ClusterRole").map((r) => r.metadata.name)).toEqual(["remote-builder-node-repair"]);
    const clusterRules = rules(base, "ClusterRole", "remote-builder-node-repair");
    expect(clusterRules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "delete"] },
    ]);
    const resources = clusterRules.flatMap((r) => r.resources);
    for (const forbidden of ["pods", "secrets", "persistentvolumeclaims", "nodes/proxy"]) {
      expect(resources).not.toContain(forbidden);
    }
  });

  it("binds each role to the service's ServiceAccount only, and never a ClusterRole in a namespace", () => {
    for (const [, r] of both()) {
      const bindings = [...r.all("RoleBinding"), ...r.all("ClusterRoleBinding")];
      expect(bindings).toHaveLength(3);
      for (const binding of bindings) {
        expect(binding.subjects).toEqual([SERVICE_ACCOUNT]);
        const ref = obj(binding.roleRef);
        const namespace = binding.kind === "RoleBinding" ? binding.metadata.namespace : undefined;
        expect(ref.kind).toBe(binding.kind === "RoleBinding" ? "Role" : "ClusterRole");
        expect(() => r.one(String(ref.kind), String(ref.name), namespace)).not.toThrow();
      }
      expect(() => r.one("ServiceAccount", SERVICE_ACCOUNT.name, SERVICE_ACCOUNT.namespace)).not.toThrow();
    }
  });
});

describe("the namespaces", () => {
  it("keep builders apart from the service, as the ConfigMap tells the driver", () => {
    for (const [, r] of both()) {
      const env = r.configMap;
      expect(env.RB_K8S_NAMESPACE).toBe(BUILDERS_NAMESPACE);
      expect(env.RB_K8S_SERVICE_NAMESPACE).toBe(SERVICE_NAMESPACE);
      expect(env.RB_K8S_NAMESPACE).not.toBe(env.RB_K8S_SERVICE_NAMESPACE);
      expect(r.deployment.metadata.namespace).toBe(env.RB_K8S_SERVICE_NAMESPACE);
      expect(r.one("Role", "remote-builder", env.RB_K8S_NAMESPACE)).toBeDefined();
      expect(r.one("Role", "remote-builder-leader-election", env.RB_K8S_SERVICE_NAMESPACE)).toBeDefined();
      expect(r.all("Namespace").map((n) => n.metadata.name)).toEqual(
        expect.arrayContaining([BUILDERS_NAMESPACE, SERVICE_NAMESPACE]),
      );
      // Only the builders' Role and its binding live with the builders.
      const inBuilders = r.objects.filter((o) => o.metadata.namespace === BUILDERS_NAMESPACE);
      expect(inBuilders.map((o) => o.kind).sort()).toEqual(["Role", "RoleBinding"]);
    }
  });

  it("enforce pod security: privileged for builders (buildkitd in the microVM), restricted for the service", () => {
    const labels = (name: string) => base.one("Namespace", name).metadata.labels ?? {};
    expect(labels(BUILDERS_NAMESPACE)["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    expect(labels(SERVICE_NAMESPACE)["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });
});

describe("the ConfigMap", () => {
  it("names only variables the service reads", () => {
    expect(CONFIG_KEYS.has("RB_DATABASE_URL")).toBe(true);
    for (const [, r] of both()) {
      for (const key of Object.keys(r.configMap)) {
        if (/^RB_(K8S|VOLUME)_/.test(key)) expect([key, K8S_KEYS.has(key)]).toEqual([key, true]);
        else expect([key, CONFIG_KEYS.has(key)]).toEqual([key, true]);
      }
    }
  });

  it("writes out every kubernetes-driver default in the base", () => {
    expect(base.configMap).toMatchObject({ RB_DRIVER: "kubernetes", RB_HOST: "0.0.0.0", ...K8S_DEFAULTS });
    expect(base.configMap.RB_WARM_POOL).toBe('{"small":2}');
  });

  it("pins the builder images by digest", () => {
    for (const [, r] of both()) {
      for (const key of DIGEST_IMAGES) {
        expect([key, r.configMap[key]]).toEqual([key, expect.stringMatching(DIGEST)]);
        expect(r.configMap[key]).not.toMatch(/sha256:0{64}$/);
      }
    }
  });

  it("listens on all interfaces with the ports the Deployment and Services expose", () => {
    for (const [, r] of both()) {
      expect(r.configMap).toMatchObject({ RB_HOST: "0.0.0.0", RB_BROKER_HOST: "0.0.0.0" });
      const ports = Object.fromEntries(list(r.container.ports).map((p) => [p.name, String(p.containerPort)]));
      expect(ports).toEqual({ api: r.configMap.RB_PORT, broker: r.configMap.RB_BROKER_PORT });
    }
  });

  it("is a configuration the service starts with (given the Secret's variables)", () => {
    const secrets = {
      RB_DATABASE_URL: "postgres://remote_builder@db:5432/remote_builder",
      RB_REDIS_URL: "redis://redis:6379",
      RB_ADMIN_TOKEN: "x".repeat(64),
    };
    for (const [, r] of both()) {
      const refused = configProblems({ ...r.configMap, ...secrets, RB_K8S_IDENTITY: "remote-builder-0" });
      expect(refused).toEqual([]);
    }
  });
});

describe("the Deployment", () => {
  it("runs `serve` as the image's command with the ConfigMap and the operator's Secret", () => {
    for (const [, r] of both()) {
      expect(r.container.args).toEqual(["serve"]);
      expect(r.container.command).toBeUndefined();
      expect(r.container.envFrom).toEqual([
        { configMapRef: { name: r.one("ConfigMap", "remote-builder", SERVICE_NAMESPACE).metadata.name } },
        { secretRef: { name: SECRET } },
      ]);
    }
  });

  it("tells each replica its pod name, namespace and Lease identity", () => {
    for (const [, r] of both()) {
      const env = list(r.container.env);
      const names = env.map((e) => e.name);
      expect(env).toEqual(
        expect.arrayContaining([
          { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
          { name: "RB_K8S_IDENTITY", value: "$(POD_NAME)" },
        ]),
      );
      // $(POD_NAME) expands only when POD_NAME comes first.
      expect(names.indexOf("POD_NAME")).toBeLessThan(names.indexOf("RB_K8S_IDENTITY"));
    }
  });

  it("mounts the CA where RB_CA_CERT_FILE and RB_CA_KEY_FILE point", () => {
    for (const [, r] of both()) {
      const volumes = list(r.podSpec.volumes);
      const ca = volumes.find((v) => obj(v.secret).secretName === "remote-builder-ca");
      expect(ca).toBeDefined();
      const mount = list(r.container.volumeMounts).find((m) => m.name === ca!.name);
      expect(mount).toMatchObject({ readOnly: true });
      const files = list(obj(ca!.secret).items).map((i) => `${String(mount!.mountPath)}/${String(i.path)}`);
      expect(files).toEqual(
        expect.arrayContaining([r.configMap.RB_CA_CERT_FILE, r.configMap.RB_CA_KEY_FILE]),
      );
    }
  });

  it("probes /readyz for readiness and /healthz for liveness on the API port", () => {
    const routes = readFileSync(join(ROOT, "service/http/routes/operations.ts"), "utf8");
    expect(routes).toContain('path: "/readyz"');
    expect(routes).toContain('path: "/healthz"');
    for (const [, r] of both()) {
      expect(obj(r.container.readinessProbe).httpGet).toEqual({ path: "/readyz", port: "api" });
      expect(obj(r.container.livenessProbe).httpGet).toEqual({ path: "/healthz", port: "api" });
    }
  });

  it("is hardened: non-root by uid, read-only root with a /tmp, no privilege, no capabilities", () => {
    for (const [, r] of both()) {
      const pod = obj(r.podSpec.securityContext);
      expect(pod).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.runAsUser).toEqual(expect.any(Number));
      expect(pod.runAsUser).not.toBe(0);
      expect(r.container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      const tmp = list(r.container.volumeMounts).find((m) => m.mountPath === "/tmp");
      expect(list(r.podSpec.volumes).find((v) => v.name === tmp?.name)).toMatchObject({ emptyDir: {} });
      expect(r.podSpec.hostNetwork ?? false).toBe(false);
      expect(r.podSpec.automountServiceAccountToken).toBe(true);
      expect(r.podSpec.serviceAccountName).toBe(SERVICE_ACCOUNT.name);
      expect(obj(r.container.resources)).toMatchObject({
        requests: { cpu: expect.any(String), memory: expect.any(String) },
        limits: { memory: expect.any(String) },
      });
    }
  });

  it("spreads its replicas across nodes", () => {
    for (const [, r] of both()) {
      const spread = list(r.podSpec.topologySpreadConstraints).map((c) => c.topologyKey);
      const anti = list(
        obj(obj(r.podSpec.affinity).podAntiAffinity).requiredDuringSchedulingIgnoredDuringExecution,
      );
      expect([...spread, ...anti.map((t) => t.topologyKey)]).toContain("kubernetes.io/hostname");
    }
  });

  it("carries the labels the builders' NetworkPolicy admits, and its selector matches them", () => {
    for (const [, r] of both()) {
      const labels = obj(obj(r.podTemplate.metadata).labels) as Record<string, string>;
      expect(labels["app.kubernetes.io/name"]).toBe("remote-builder");
      expect(matches(JSON.parse(r.configMap.RB_K8S_BROKER_LABELS!), labels)).toBe(true);
      expect(matches(obj(obj(r.deployment.spec).selector).matchLabels, labels)).toBe(true);
    }
  });

  it("runs 2 replicas in the base and 3 with a bigger warm pool for tenant zero", () => {
    expect(obj(base.deployment.spec).replicas).toBe(2);
    expect(obj(overlay.deployment.spec).replicas).toBe(3);
    expect(JSON.parse(overlay.configMap.RB_WARM_POOL!)).toEqual({ small: 2, medium: 2, large: 1 });
    expect(overlay.configMap.RB_BROKER_NAMES).not.toMatch(/example\.com/);
    expect(overlay.configMap.RB_BROKER_ENDPOINT).toBe(`tcp://${overlay.configMap.RB_BROKER_NAMES}:443`);
  });
});

describe("the Services and the disruption budget", () => {
  it("expose the API inside the cluster and pass the broker's TLS straight through a load balancer", () => {
    for (const [, r] of both()) {
      const labels = obj(obj(r.podTemplate.metadata).labels) as Record<string, string>;
      const api = obj(r.one("Service", "remote-builder", SERVICE_NAMESPACE).spec);
      const broker = obj(r.one("Service", "remote-builder-broker", SERVICE_NAMESPACE).spec);
      expect(api.type).toBe("ClusterIP");
      expect(broker.type).toBe("LoadBalancer");
      expect(list(api.ports).map((p) => p.targetPort)).toEqual(["api"]);
      expect(list(broker.ports)).toEqual([
        { name: "broker", port: 443, targetPort: "broker", protocol: "TCP" },
      ]);
      for (const spec of [api, broker]) expect(matches(spec.selector, labels)).toBe(true);
    }
  });

  it("keep at least one replica through a drain", () => {
    for (const [, r] of both()) {
      const labels = obj(obj(r.podTemplate.metadata).labels) as Record<string, string>;
      const pdb = obj(r.one("PodDisruptionBudget", "remote-builder", SERVICE_NAMESPACE).spec);
      expect(pdb.minAvailable).toBe(1);
      expect(matches(obj(pdb.selector).matchLabels, labels)).toBe(true);
      expect(Number(obj(r.deployment.spec).replicas)).toBeGreaterThan(1);
    }
  });
});
