import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig, type LoadOptions } from "../service/config.js";

const valid = {
  RB_DATABASE_URL: "postgres://u@127.0.0.1:5432/db",
  RB_REDIS_URL: "redis://127.0.0.1:6379",
  RB_ADMIN_TOKEN: "x".repeat(32),
  RB_DRIVER: "local",
};

function problems(env: Record<string, string>, options: LoadOptions = {}): string[] {
  try {
    loadConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the configuration to be refused");
}

describe("configuration", () => {
  it("starts from four variables, with sane defaults for the rest", () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      port: 8080,
      driver: "local",
      defaultShape: "small",
      claimLeaseMs: 60_000,
      ca: null,
      prices: null,
      broker: { names: ["localhost", "127.0.0.1"], endpoint: null, certLifetimeMs: 30 * 86_400_000 },
    });
    expect(Object.keys(config.shapes)).toEqual(["small", "medium", "large", "xlarge"]);
  });

  it("lists every missing variable at once, each with what it expects", () => {
    const list = problems({});
    expect(list).toHaveLength(4);
    expect(list[0]).toMatch(/^RB_DATABASE_URL: missing \(the PostgreSQL URL/);
    expect(list[1]).toMatch(/^RB_REDIS_URL: missing \(the Redis URL/);
    expect(list[2]).toMatch(/^RB_ADMIN_TOKEN: missing/);
    expect(list[3]).toMatch(/^RB_DRIVER: missing; set RB_DRIVER=local or RB_DRIVER=kubernetes/);
  });

  it("names the driver or is handed one: serve never falls back to builders that build nothing", () => {
    const unnamed: Record<string, string> = { ...valid };
    delete unnamed.RB_DRIVER;
    expect(problems(unnamed)).toEqual([
      expect.stringMatching(/^RB_DRIVER: missing; set RB_DRIVER=local or RB_DRIVER=kubernetes \(where/),
    ]);
    expect(problems({ ...valid, RB_DRIVER: "memory" })).toEqual([
      expect.stringMatching(
        /^RB_DRIVER: memory is the tests' driver and builds nothing; set local or kubernetes/,
      ),
    ]);
    // A caller that hands the service its driver (the tests, `dev` without buildkitd) may leave it unset,
    // but still cannot name the memory driver.
    expect(loadConfig(unnamed, { driverInjected: true }).driver).toBeNull();
    expect(problems({ ...valid, RB_DRIVER: "memory" }, { driverInjected: true })[0]).toMatch(
      /^RB_DRIVER: memory/,
    );
  });

  it("keeps the CA's certificate and key together, or takes a folder", () => {
    expect(loadConfig({ ...valid, RB_CA_DIR: "/ca" }).ca).toEqual({ dir: "/ca" });
    expect(loadConfig({ ...valid, RB_CA_CERT_FILE: "/c.pem", RB_CA_KEY_FILE: "/k.pem" }).ca).toEqual({
      certFile: "/c.pem",
      keyFile: "/k.pem",
    });
    expect(problems({ ...valid, RB_CA_CERT_FILE: "/c.pem", RB_CA_DIR: "/ca" })).toEqual([
      expect.stringMatching(/^RB_CA_KEY_FILE: RB_CA_CERT_FILE and RB_CA_KEY_FILE go together/),
    ]);
  });

  it("says what is wrong with each invalid value", () => {
    const list = problems({
      ...valid,
      RB_ADMIN_TOKEN: "short",
      RB_PORT: "http",
      RB_SHAPES: "{not json",
      RB_CLAIM_LEASE_SECONDS: "-1",
      RB_DRIVER: "docker",
    });
    expect(list.map((p) => p.split(":")[0]).sort()).toEqual(
      ["RB_ADMIN_TOKEN", "RB_CLAIM_LEASE_SECONDS", "RB_DRIVER", "RB_PORT", "RB_SHAPES"].sort(),
    );
    expect(list.find((p) => p.startsWith("RB_ADMIN_TOKEN"))).toContain("at least 32 characters");
    expect(list.find((p) => p.startsWith("RB_SHAPES"))).toContain("is not valid JSON");
  });

  it("checks the catalog, the plans and the defaults against each other", () => {
    const list = problems({
      ...valid,
      RB_SHAPES: JSON.stringify({ tiny: { cpu: 1, memoryGiB: 1 } }),
      RB_PLANS: JSON.stringify({
        basic: { concurrencyLimit: 1, monthlyBuildMinutes: 1, cacheVolumeGiB: 1, allowedShapes: ["huge"] },
      }),
    });
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringContaining('RB_DEFAULT_SHAPE: "small" is not in RB_SHAPES (tiny)'),
        expect.stringContaining('RB_DEFAULT_PLAN: "free" is not in RB_PLANS'),
        expect.stringContaining('plan "basic" allows shapes missing from RB_SHAPES: huge'),
      ]),
    );
  });
});

describe("builder configuration", () => {
  it("runs the local driver with its folder, idle time and warm pool", () => {
    const config = loadConfig({
      ...valid,
      RB_DRIVER: "local",
      RB_LOCAL_DIR: "/var/lib/rb",
      RB_BUILDER_IDLE_TTL_SECONDS: "0",
      RB_WARM_POOL: JSON.stringify({ small: 2, large: 0 }),
    });
    expect(config).toMatchObject({
      driver: "local",
      local: { dir: "/var/lib/rb", buildkitd: "buildkitd" },
      builderIdleTtlMs: 0,
      warmPool: { small: 2, large: 0 },
    });
    expect(loadConfig(valid)).toMatchObject({ builderIdleTtlMs: 600_000, warmPool: {} });
  });

  it("refuses a warm pool for a shape not in the catalog, or of a negative size", () => {
    expect(problems({ ...valid, RB_WARM_POOL: JSON.stringify({ huge: 1 }) })).toEqual([
      expect.stringContaining("RB_WARM_POOL: shapes missing from RB_SHAPES: huge"),
    ]);
    expect(problems({ ...valid, RB_WARM_POOL: JSON.stringify({ small: -1 }) })[0]).toMatch(/^RB_WARM_POOL/);
    expect(problems({ ...valid, RB_BUILDER_IDLE_TTL_SECONDS: "-5" })[0]).toMatch(
      /^RB_BUILDER_IDLE_TTL_SECONDS/,
    );
  });
});

describe("OIDC configuration", () => {
  it("trusts GitHub Actions by default, with credentials of an hour", () => {
    expect(loadConfig(valid).oidc).toMatchObject({
      audience: "remote-builder",
      issuers: [{ name: "github", issuer: "https://token.actions.githubusercontent.com", kind: "github" }],
      credentialTtlMs: 3_600_000,
      githubApiUrl: "https://api.github.com",
    });
  });

  it("refuses a credential life over an hour, an unknown CI kind, and two issuers with one name", () => {
    const list = problems({
      ...valid,
      RB_OIDC_CREDENTIAL_TTL_SECONDS: "7200",
      RB_OIDC_ISSUERS: JSON.stringify([{ name: "jenkins", issuer: "https://ci.example", kind: "jenkins" }]),
    });
    expect(list.map((p) => p.split(":")[0]).sort()).toEqual([
      "RB_OIDC_CREDENTIAL_TTL_SECONDS",
      "RB_OIDC_ISSUERS",
    ]);
    const twice = problems({
      ...valid,
      RB_OIDC_ISSUERS: JSON.stringify([
        { name: "gh", issuer: "https://a.example", kind: "github" },
        { name: "gh", issuer: "https://b.example", kind: "github" },
      ]),
    });
    expect(twice[0]).toContain("each issuer needs its own name");
  });

  describe("the kubernetes driver", () => {
    const image = (name: string) => `${name}@sha256:${"a".repeat(64)}`;
    const kube = { ...valid, RB_DRIVER: "kubernetes" };

    it("needs its images, pinned by digest, and says so", () => {
      expect(problems(kube)).toEqual([
        expect.stringMatching(/^RB_K8S_BUILDKIT_IMAGE: is required by the kubernetes driver/),
        expect.stringMatching(/^RB_K8S_FORMAT_IMAGE: is required by the kubernetes driver/),
      ]);
      expect(
        problems({
          ...kube,
          RB_K8S_BUILDKIT_IMAGE: "moby/buildkit:v0.11.6",
          RB_K8S_FORMAT_IMAGE: image("debian"),
        }),
      ).toEqual([expect.stringMatching(/^RB_K8S_BUILDKIT_IMAGE: must be pinned by digest/)]);
      // Filesystem volumes are never formatted: no format image needed.
      expect(
        loadConfig({
          ...kube,
          RB_K8S_BUILDKIT_IMAGE: image("moby/buildkit"),
          RB_K8S_VOLUME_MODE: "Filesystem",
        }).kubernetes.formatImage,
      ).toBeNull();
    });

    it("has the production defaults, and takes the pod's name as its identity in the Lease", () => {
      const config = loadConfig({
        ...kube,
        RB_K8S_BUILDKIT_IMAGE: image("moby/buildkit"),
        RB_K8S_FORMAT_IMAGE: image("debian"),
        POD_NAME: "remote-builder-7d9f-abcde",
      });
      expect(config.kubernetes).toMatchObject({
        namespace: "remote-builder-builders",
        serviceNamespace: "remote-builder",
        leaseName: "remote-builder-reconciler",
        identity: "remote-builder-7d9f-abcde",
        runtimeClassName: "kata-fc",
        storageClassName: "scw-local-nvme",
        volumeMode: "Block",
        nodeSelector: { "kubernetes.io/os": "linux" },
        tolerations: [],
        nodeGraceMs: 300_000,
        nodeBudgetGiB: 1500,
      });
      expect(config.kubernetes.blockedCidrs).toContain("169.254.0.0/16");
      expect(config.volumeRetentionMs).toBe(30 * 86_400_000);
    });

    it("refuses a bad namespace, toleration or address range, and broker labels that select every pod", () => {
      const list = problems({
        ...kube,
        RB_K8S_BUILDKIT_IMAGE: image("moby/buildkit"),
        RB_K8S_FORMAT_IMAGE: image("debian"),
        RB_K8S_NAMESPACE: "Builders_NS",
        RB_K8S_TOLERATIONS: JSON.stringify([{ key: "x", operator: "Maybe" }]),
        RB_K8S_BLOCKED_CIDRS: JSON.stringify(["10.0.0.0"]),
        RB_K8S_BROKER_LABELS: "{}",
      });
      expect(list.map((p) => p.split(":")[0]).sort()).toEqual(
        ["RB_K8S_BLOCKED_CIDRS", "RB_K8S_BROKER_LABELS", "RB_K8S_NAMESPACE", "RB_K8S_TOLERATIONS"].sort(),
      );
      expect(list.find((p) => p.startsWith("RB_K8S_BROKER_LABELS"))).toMatch(/\{\} would let in every pod/);
    });
  });
});
