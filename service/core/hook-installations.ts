import type { IssuerConfig } from "./ci-identity.js";
import { hookSecret } from "./hook-secrets.js";
import { HOOK_PROVIDERS, type HookInstallation, type HookProvider, hookPath, hooksOff } from "./hooks.js";
import type { HookInstallationStore } from "./ports.js";
import { Problem } from "./problems.js";

export interface AddHookRequest {
  provider: string;
  ownerId: string;
  /** A configured issuer's name; the first configured one of the provider's kind when absent. */
  issuer?: string | undefined;
  ownerName?: string | undefined;
}

/** What the CI side needs, shown once: the secret, where to send deliveries, and which settings. */
export interface NewHookSecret {
  installation: HookInstallation;
  secret: string;
  /** The delivery path, on the service's public URL. */
  path: string;
  settings: Array<{ name: string; value: string }>;
}

/** What an administrator does to hook installations. */
export class HookInstallations {
  constructor(
    private readonly deps: {
      store: HookInstallationStore;
      issuers: IssuerConfig[];
      /** RB_HOOK_SECRET_KEY's bytes; null when hooks are off. */
      key: Buffer | null;
    },
  ) {}

  async add(request: AddHookRequest): Promise<NewHookSecret> {
    const key = this.deps.key;
    if (key === null) throw hooksOff();
    const provider = providerOf(request.provider);
    const issuer = this.issuer(provider, request.issuer);
    checkOwnerId(provider, request.ownerId);
    const installation = await this.deps.store.create({
      provider,
      issuer: issuer.name,
      ownerId: request.ownerId,
      ownerName: request.ownerName ?? null,
    });
    const secret = hookSecret(key, installation.id);
    return { installation, secret, path: hookPath(provider), settings: settingsFor(provider) };
  }

  list(): Promise<HookInstallation[]> {
    return this.deps.store.list();
  }

  async remove(id: string): Promise<HookInstallation> {
    const removed = await this.deps.store.remove(id);
    if (!removed) throw new Problem("not-found", `There is no hook installation ${id}.`);
    return removed;
  }

  private issuer(provider: HookProvider, name: string | undefined): IssuerConfig {
    const ofKind = this.deps.issuers.filter((i) => i.kind === provider);
    const issuer = name === undefined ? ofKind[0] : ofKind.find((i) => i.name === name);
    if (!issuer) {
      const known = ofKind.map((i) => i.name).join(", ");
      throw invalid(
        "issuer",
        name === undefined
          ? `is needed: RB_OIDC_ISSUERS configures no ${provider} issuer, so no trust relationship could match ${provider}'s jobs; add one there first`
          : `"${name}" is not a configured ${provider} issuer (RB_OIDC_ISSUERS: ${known || `none of kind ${provider}`})`,
      );
    }
    return issuer;
  }
}

function providerOf(name: string): HookProvider {
  const provider = HOOK_PROVIDERS.find((p) => p === name);
  if (!provider) throw invalid("provider", `must be one of ${HOOK_PROVIDERS.join(", ")}`);
  return provider;
}

/** The id the provider's OIDC tokens carry for the owner (ci-identity.ts), in the same form. */
function checkOwnerId(provider: HookProvider, ownerId: string): void {
  if (provider === "buildkite") {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(ownerId)) {
      throw invalid("ownerId", "must be the Buildkite organization's UUID (the OIDC organization_id claim)");
    }
    return;
  }
  if (!/^\d{1,20}$/.test(ownerId)) {
    throw invalid(
      "ownerId",
      provider === "github"
        ? "must be the GitHub owner's numeric id (org or user: `gh api users/<name> --jq .id`)"
        : "must be the GitLab group's or user's numeric namespace id",
    );
  }
}

/** Exactly what to set on the CI side, beside the URL and the secret. */
function settingsFor(provider: HookProvider): Array<{ name: string; value: string }> {
  switch (provider) {
    case "github":
      return [
        { name: "Content type", value: "application/json" },
        { name: "SSL verification", value: "Enable SSL verification" },
        { name: "Which events", value: "Let me select individual events: Workflow jobs (only)" },
        { name: "Active", value: "checked" },
      ];
    case "gitlab":
      return [
        { name: "Secret token", value: "the secret" },
        { name: "Trigger", value: "Job events (only)" },
        { name: "SSL verification", value: "Enable SSL verification" },
      ];
    case "buildkite":
      return [
        { name: "Token", value: "the secret, sent as X-Buildkite-Signature" },
        { name: "Events", value: "job.scheduled (only)" },
      ];
  }
}

function invalid(field: string, message: string): Problem {
  return new Problem("invalid-request", `${field} ${message}.`, {
    errors: [{ path: `body.${field}`, message }],
  });
}
