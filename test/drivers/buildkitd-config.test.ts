import { describe, expect, it } from "@jest/globals";
import {
  buildkitdArgs,
  buildkitdToml,
  parseBuildkitVersion,
  tooOld,
} from "../../service/adapters/drivers/buildkitd-config.js";

const SETTINGS = {
  root: "/var/lib/buildkit",
  address: "tcp://127.0.0.1:4321",
  tls: { ca: "/run/b/ca.pem", cert: "/run/b/cert.pem", key: "/run/b/key.pem" },
  maxParallelism: 4,
  keepBytes: 17_179_869_184,
};

/** The file's text; test/integration/buildkitd-config.test.ts runs it through real buildkitd. */
describe("buildkitd's configuration", () => {
  it("is one TOML file named by the only flag, with the keys every release from v0.11 reads", () => {
    expect(buildkitdArgs("/run/b/buildkitd.toml")).toEqual(["--config", "/run/b/buildkitd.toml"]);
    expect(buildkitdToml({ ...SETTINGS, traceSocket: "/run/b/otel.sock" })).toBe(
      [
        'root = "/var/lib/buildkit"',
        "",
        "[grpc]",
        '  address = ["tcp://127.0.0.1:4321"]',
        "",
        "[grpc.tls]",
        '  ca = "/run/b/ca.pem"',
        '  cert = "/run/b/cert.pem"',
        '  key = "/run/b/key.pem"',
        "",
        "[worker.oci]",
        "  gc = true",
        "  gckeepstorage = 17179869184",
        "  max-parallelism = 4",
        "",
        "[worker.containerd]",
        "  enabled = false",
        "",
        "[otel]",
        '  socketPath = "/run/b/otel.sock"',
        "",
      ].join("\n"),
    );
  });

  it.each([
    [0.5, 1],
    [1, 1],
    [2.5, 2],
    [16, 16],
  ])("runs at most the shape's CPUs of steps at once: %s CPUs → %s", (cpus, steps) => {
    expect(buildkitdToml({ ...SETTINGS, maxParallelism: cpus })).toContain(`  max-parallelism = ${steps}\n`);
  });

  it("leaves GC's budget and the step limit to buildkitd when there is none to give", () => {
    const toml = buildkitdToml({ ...SETTINGS, keepBytes: null, maxParallelism: null });
    expect(toml).not.toMatch(/gckeepstorage|max-parallelism|\[otel\]/);
    expect(toml).toContain("[worker.oci]\n  gc = true\n");
  });

  it("puts RUN steps in network namespaces of their own through CNI, when given the plugins", () => {
    const toml = buildkitdToml({
      ...SETTINGS,
      cni: { configPath: "/data/cni/remote-builder.conflist", binaryDir: "/usr/lib/cni", poolSize: 2 },
    });
    expect(toml).toContain(
      [
        '  networkMode = "cni"',
        '  cniConfigPath = "/data/cni/remote-builder.conflist"',
        '  cniBinaryPath = "/usr/lib/cni"',
        "  cniPoolSize = 2",
      ].join("\n"),
    );
    expect(buildkitdToml(SETTINGS)).not.toContain("networkMode");
  });

  it("quotes paths as TOML strings", () => {
    expect(buildkitdToml({ ...SETTINGS, root: '/data/a "b"\\c' })).toContain('root = "/data/a \\"b\\"\\\\c"');
  });

  it("refuses a budget that is not a positive whole number of bytes", () => {
    expect(() => buildkitdToml({ ...SETTINGS, keepBytes: 1.5 })).toThrow(/not a positive whole number: 1.5/);
    expect(() => buildkitdToml({ ...SETTINGS, keepBytes: 0 })).toThrow(/not a positive whole number/);
  });
});

describe("buildkitd's release", () => {
  it.each([
    [
      "buildkitd github.com/moby/buildkit v0.11.6 2951a28cd7085eb18979b1f710678623d94ed578",
      [0, 11, 6],
      false,
    ],
    ["buildkitd github.com/moby/buildkit v0.32.2 73ed6825", [0, 32, 2], false],
    ["buildkitd github.com/moby/buildkit v0.10.6 0c9b5aeb", [0, 10, 6], true],
    ["buildkitd github.com/moby/buildkit v1.0.0 x", [1, 0, 0], false],
  ] as const)("%s", (output, version, old) => {
    expect(parseBuildkitVersion(output)).toEqual(version);
    expect(tooOld(version)).toBe(old);
  });

  it("names none for a build from a branch", () => {
    expect(parseBuildkitVersion("buildkitd github.com/moby/buildkit 0.0.0+unknown")).toBeNull();
  });
});
