import type { IssuerConfig } from "./ci-identity.js";
import type { AccountStore, OwnerDirectory, TrustStore } from "./ports.js";
import { Problem } from "./problems.js";
import { DEFAULT_CACHE_WRITE_REFS, type TrustRelationship } from "./trust.js";

export interface AddTrustRequest {
  /** A configured issuer's name; the first configured one when absent. */
  issuer?: string | undefined;
  ownerId?: string | undefined;
  /** An owner's name, resolved once to its id (GitHub issuers only). */
  owner?: string | undefined;
  repositoryId?: string | undefined;
  /** `owner/repo`, resolved once to both ids (GitHub issuers only). */
  repository?: string | undefined;
  refs?: string[] | undefined;
  cacheWriteRefs?: string[] | undefined;
  environments?: string[] | undefined;
  workflowRefs?: string[] | undefined;
  events?: string[] | undefined;
}

/** What an administrator does to an account's trust relationships. */
export class TrustService {
  constructor(
    private readonly deps: {
      accounts: AccountStore;
      trust: TrustStore;
      directory: OwnerDirectory;
      issuers: IssuerConfig[];
      /** Called after every change, so this replica's exchange sees it at once. */
      onChange: () => void;
    },
  ) {}

  async add(accountRef: string, request: AddTrustRequest): Promise<TrustRelationship> {
    const account = await this.account(accountRef);
    const issuer = this.issuer(request.issuer);
    let ownerId = request.ownerId ?? null;
    let ownerName: string | null = null;
    let repositoryId = request.repositoryId ?? null;
    let repositoryName: string | null = null;
    if (request.repository !== undefined || request.owner !== undefined) {
      if (issuer.kind !== "github") {
        throw invalid(
          "owner",
          `names are resolved only for GitHub issuers; give ${issuer.name}'s numeric ownerId (and repositoryId) instead`,
        );
      }
      const [owner, repo] =
        request.repository !== undefined ? splitRepository(request.repository) : [request.owner!, null];
      if (request.owner !== undefined && request.owner.toLowerCase() !== owner.toLowerCase()) {
        throw invalid("owner", `is ${request.owner}, but repository names the owner ${owner}`);
      }
      const resolved = await this.deps.directory.resolve(owner, repo);
      if (ownerId !== null && ownerId !== resolved.ownerId) {
        throw invalid("ownerId", `is ${ownerId}, but ${owner} has the id ${resolved.ownerId}`);
      }
      if (repositoryId !== null && resolved.repositoryId !== null && repositoryId !== resolved.repositoryId) {
        throw invalid("repositoryId", `is ${repositoryId}, but ${repo} has the id ${resolved.repositoryId}`);
      }
      ownerId = resolved.ownerId;
      ownerName = resolved.ownerName;
      repositoryId = resolved.repositoryId ?? repositoryId;
      repositoryName = resolved.repositoryName;
    }
    if (ownerId === null) {
      throw invalid(
        "ownerId",
        "is required: the owner's numeric id, or its name (owner or repository) to resolve",
      );
    }
    if (issuer.kind === "github" || issuer.kind === "gitlab") {
      if (!/^\d{1,20}$/.test(ownerId)) throw invalid("ownerId", `must be numeric for ${issuer.name}`);
      if (repositoryId !== null && !/^\d{1,20}$/.test(repositoryId)) {
        throw invalid("repositoryId", `must be numeric for ${issuer.name}`);
      }
    }
    const relationship = await this.deps.trust.create({
      accountId: account.id,
      issuer: issuer.name,
      ownerId,
      ownerName,
      repositoryId,
      repositoryName,
      refs: request.refs ?? [],
      cacheWriteRefs: request.cacheWriteRefs ?? DEFAULT_CACHE_WRITE_REFS,
      environments: request.environments ?? null,
      workflowRefs: request.workflowRefs ?? null,
      events: request.events ?? null,
    });
    this.deps.onChange();
    return relationship;
  }

  async list(accountRef: string): Promise<TrustRelationship[]> {
    return this.deps.trust.list((await this.account(accountRef)).id);
  }

  async remove(accountRef: string, id: string): Promise<TrustRelationship> {
    const account = await this.account(accountRef);
    const removed = await this.deps.trust.remove(account.id, id);
    if (!removed)
      throw new Problem("not-found", `The account "${accountRef}" has no trust relationship ${id}.`);
    this.deps.onChange();
    return removed;
  }

  private async account(ref: string) {
    const account = await this.deps.accounts.find(ref);
    if (!account) throw new Problem("not-found", `There is no account "${ref}".`);
    return account;
  }

  private issuer(name: string | undefined): IssuerConfig {
    const issuer = name === undefined ? this.deps.issuers[0] : this.deps.issuers.find((i) => i.name === name);
    if (!issuer) {
      throw invalid(
        "issuer",
        `there is no issuer "${name ?? ""}"; RB_OIDC_ISSUERS configures ${this.deps.issuers.map((i) => i.name).join(", ") || "none"}`,
      );
    }
    return issuer;
  }
}

function splitRepository(repository: string): [string, string] {
  const match = /^([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9._-]{1,100})$/.exec(repository);
  if (!match) throw invalid("repository", "must be owner/repo");
  return [match[1]!, match[2]!];
}

function invalid(field: string, message: string): Problem {
  return new Problem("invalid-request", `${field} ${message}.`, {
    errors: [{ path: `body.${field}`, message }],
  });
}
