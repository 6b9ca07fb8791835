import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "../../service/config.js";

const valid = {
  RB_DATABASE_URL: "postgres://u@127.0.0.1:5432/db",
  RB_REDIS_URL: "redis://127.0.0.1:6379",
  RB_ADMIN_TOKEN: "x".repeat(32),
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the configuration to be refused");
}

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
});
