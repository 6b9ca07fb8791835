import { describe, expect, it } from "@jest/globals";
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import { buildkitdToml } from "../../service/adapters/drivers/buildkitd-config.js";
import { ANNOTATIONS, LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import {
  builderConfig,
  builderNetworkPolicy,
  builderPod,
  builderSecret,
  cacheVolumeClaim,
  type FleetSettings,
} from "../../service/adapters/drivers/kubernetes/objects.js";
import { objectProblems } from "../harness/kube-schema.js";

const SETTINGS: FleetSettings = {
  namespace: "remote-builder-builders",
  runtimeClassName: "kata-fc",
  buildkitImage: `moby/buildkit:v0.11.6@sha256:${"a".repeat(64)}`,
  formatImage: `debian:bookworm-slim@sha256:${"b".repeat(64)}`,
  storageClassName: "scw-local-nvme",
  volumeMode: "Block",
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [{ key: "builders", operator: "Exists", effect: "NoSchedule" }],
};
const TLS = {
  caPem: "ca",
  certPem: "cert",
  keyPem: "key",
  serverName: "rb-1.builders.remote-builder.internal",
};
const ACCOUNT = "0b8f3a4e-8f0e-4d35-9d0a-2a0f7f7c9d11";
const CLAIM = {
  name: "cache-abc",
  role: "account",
  accountId: ACCOUNT,
  volume: "buildkit",
  shapeName: null,
  sizeGiB: 50,
} as const;

/** What goes on the wire: the client serializes its typed objects (`_from` becomes `from`). */
function wire(o: object, type: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(o, type, ""))) as Record<string, unknown>;
}

const pod = (over: Partial<Parameters<typeof builderPod>[1]> = {}, settings = SETTINGS) =>
  builderPod(settings, {
    builderId: "rb-0123456789ab",
    shapeName: "medium",
    shape: { cpu: 4, memoryGiB: 8 },
    role: "serving",
    accountId: ACCOUNT,
    buildId: "6f1c1f52-54d6-4c4b-9d8c-6a3b7a0f0e10",
    claim: { name: "cache-abc", volume: "buildkit" },
    volumeSizeGiB: 50,
    now: 1_700_000_000_000,
    ...over,
  });

describe("the objects the kubernetes driver creates", () => {
  it("validate against the Kubernetes OpenAPI schemas, every variant", () => {
    const objects = [
      wire(pod(), "V1Pod"),
      wire(pod({ claim: null, role: "warm", accountId: null, buildId: null }), "V1Pod"),
      wire(pod({ role: "idle", buildId: null, prewarmExpiresAt: 1_700_000_600_000 }), "V1Pod"),
      wire(pod({}, { ...SETTINGS, volumeMode: "Filesystem" }), "V1Pod"),
      wire(builderSecret(SETTINGS, "rb-0123456789ab", "medium", TLS, 'root = "/x"\n'), "V1Secret"),
      wire(cacheVolumeClaim(SETTINGS, CLAIM), "V1PersistentVolumeClaim"),
      wire(
        builderNetworkPolicy(SETTINGS, {
          serviceNamespace: "remote-builder",
          brokerLabels: { "app.kubernetes.io/name": "remote-builder" },
          blockedCidrs: ["10.0.0.0/8", "169.254.0.0/16", "fd00::/8"],
        }),
        "V1NetworkPolicy",
      ),
    ];
    expect(objectProblems(objects)).toEqual([]);
  });

  it("a schema violation is caught (the check is not vacuous)", () => {
    const broken = wire(pod(), "V1Pod") as { spec: { containers: Array<Record<string, unknown>> } };
    broken.spec.containers[0]!.ports = [{ containerPort: "buildkitd" }];
    expect(objectProblems([broken]).join("\n")).toMatch(/containerPort/);
  });

  it("a pre-warmed pod is a pool pod like any other: the same spec, so the same priority under pressure", () => {
    const prewarmed = pod({ role: "idle", buildId: null, prewarmExpiresAt: 1_700_000_600_000 });
    const warm = pod({ role: "warm", accountId: null, buildId: null });
    expect(prewarmed.spec).toEqual(warm.spec);
    expect(prewarmed.spec).toEqual(pod().spec);
    // No PriorityClass of its own: nothing that would let it keep room a build's pod needs.
    expect(prewarmed.spec!.priorityClassName).toBeUndefined();
    expect(prewarmed.spec!.priority).toBeUndefined();
    expect(prewarmed.metadata!.annotations).toMatchObject({
      [ANNOTATIONS.prewarmedAt]: "1700000000000",
      [ANNOTATIONS.prewarmExpiresAt]: "1700000600000",
      [ANNOTATIONS.idleSince]: "1700000000000",
    });
  });

  it("a builder pod runs in the microVM with no cluster credentials and its shape's exact resources", () => {
    const p = pod();
    const spec = p.spec!;
    expect(spec.runtimeClassName).toBe("kata-fc");
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.dnsPolicy).toBe("Default");
    expect(spec.restartPolicy).toBe("Never");
    expect(spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(spec.tolerations).toEqual(SETTINGS.tolerations);
    const [buildkitd] = spec.containers;
    expect(buildkitd!.image).toBe(SETTINGS.buildkitImage);
    expect(buildkitd!.resources).toEqual({
      requests: { cpu: "4", memory: "8Gi" },
      limits: { cpu: "4", memory: "8Gi" },
    });
    expect(p.metadata!.labels).toMatchObject({
      [LABELS.account]: ACCOUNT,
      [LABELS.build]: "6f1c1f52-54d6-4c4b-9d8c-6a3b7a0f0e10",
      [LABELS.shape]: "medium",
      [LABELS.role]: "serving",
      [LABELS.volume]: "buildkit",
    });
  });

  it("buildkitd reads everything from the buildkitd.toml in its Secret: mTLS, the cache in the volume, GC in bytes, the shape's CPUs", () => {
    const p = pod();
    expect(p.spec!.containers[0]!.args).toEqual(["--config", "/etc/remote-builder/buildkitd.toml"]);
    expect(p.spec!.containers[0]!.volumeMounts).toContainEqual({
      name: "builder",
      mountPath: "/etc/remote-builder",
      readOnly: true,
    });
    expect(p.spec!.volumes!.find((v) => v.name === "builder")!.secret!.secretName).toBe(
      "rb-0123456789ab-tls",
    );
    const config = builderConfig({ shape: { cpu: 4, memoryGiB: 8 }, volumeSizeGiB: 50 });
    expect(config).toBe(
      buildkitdToml({
        root: "/var/lib/buildkit",
        address: "tcp://0.0.0.0:1234",
        tls: {
          ca: "/etc/remote-builder/ca.crt",
          cert: "/etc/remote-builder/tls.crt",
          key: "/etc/remote-builder/tls.key",
        },
        maxParallelism: 4,
        keepBytes: 42_949_672_960,
      }),
    );
    const secret = builderSecret(SETTINGS, "rb-0123456789ab", "medium", TLS, config);
    expect(Buffer.from(secret.data!["buildkitd.toml"]!, "base64").toString()).toBe(config);
    expect(Object.keys(secret.data!).sort()).toEqual(["buildkitd.toml", "ca.crt", "tls.crt", "tls.key"]);
  });

  it("in Block mode the volume reaches the guest as a device, formatted once and mounted at /var/lib/buildkit", () => {
    const spec = pod().spec!;
    const [format] = spec.initContainers!;
    expect(format!.image).toBe(SETTINGS.formatImage);
    expect(format!.command!.join(" ")).toMatch(/blkid \/dev\/rb-cache .*\|\| mkfs\.ext4/);
    expect(format!.volumeDevices).toEqual([{ name: "cache", devicePath: "/dev/rb-cache" }]);
    const buildkitd = spec.containers[0]!;
    expect(buildkitd.volumeDevices).toEqual([{ name: "cache", devicePath: "/dev/rb-cache" }]);
    expect(buildkitd.command!.join(" ")).toMatch(
      /mount -t ext4 \/dev\/rb-cache \/var\/lib\/buildkit && exec buildkitd/,
    );
    expect(buildkitd.volumeMounts!.map((m) => m.mountPath)).toEqual(["/etc/remote-builder"]);
  });

  it("in Filesystem mode, and for a throw-away cache, the volume is mounted; nothing is formatted", () => {
    const fs = pod({}, { ...SETTINGS, volumeMode: "Filesystem" }).spec!;
    expect(fs.initContainers).toBeUndefined();
    expect(fs.containers[0]!.command).toEqual(["buildkitd"]);
    expect(fs.containers[0]!.volumeMounts).toContainEqual({ name: "cache", mountPath: "/var/lib/buildkit" });
    const scratch = pod({ claim: null }).spec!;
    expect(scratch.initContainers).toBeUndefined();
    expect(scratch.volumes!.find((v) => v.name === "cache")!.emptyDir).toEqual({ sizeLimit: "50Gi" });
  });

  it("a cache volume is single-writer on the configured StorageClass", () => {
    const claim = cacheVolumeClaim(SETTINGS, CLAIM);
    expect(claim.spec).toEqual({
      accessModes: ["ReadWriteOncePod"],
      storageClassName: "scw-local-nvme",
      volumeMode: "Block",
      resources: { requests: { storage: "50Gi" } },
    });
  });

  it("the NetworkPolicy admits only the broker, and lets builders out to the internet but not inward", () => {
    const policy = wire(
      builderNetworkPolicy(SETTINGS, {
        serviceNamespace: "remote-builder",
        brokerLabels: { "app.kubernetes.io/name": "remote-builder" },
        blockedCidrs: ["10.0.0.0/8", "169.254.0.0/16", "fd00::/8"],
      }),
      "V1NetworkPolicy",
    ) as { spec: Record<string, unknown> };
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { [LABELS.component]: "builder" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "remote-builder" } },
              podSelector: { matchLabels: { "app.kubernetes.io/name": "remote-builder" } },
            },
          ],
          ports: [{ protocol: "TCP", port: 1234 }],
        },
      ],
      egress: [
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "169.254.0.0/16"] } }] },
        { to: [{ ipBlock: { cidr: "::/0", except: ["fd00::/8"] } }] },
      ],
    });
  });
});
