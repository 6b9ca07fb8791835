import { type Account, type AgentToken, type PlanCatalog, REMOTE_BUILDER_FEATURE } from "./accounts.js";
import type { ShapeCatalog } from "./catalog.js";
import type { AccountStore, AccountUpdate } from "./ports.js";
import { Problem } from "./problems.js";
import { generateAgentToken } from "./tokens.js";

export interface NewAccountRequest extends AccountUpdate {
  handle: string;
}

/** What an administrator does to accounts and their agent tokens. */
export class AccountService {
  constructor(
    private readonly accounts: AccountStore,
    private readonly plans: PlanCatalog,
    private readonly defaultPlan: string,
    private readonly catalog: ShapeCatalog,
  ) {}

  async create(request: NewAccountRequest): Promise<Account> {
    const planName = request.plan ?? this.defaultPlan;
    const plan = this.planOf(planName);
    const account = {
      features: [],
      profiles: {},
      ...plan,
      ...withoutUndefined(request),
      plan: planName,
    };
    this.checkShapes(account.allowedShapes, account.profiles);
    return this.accounts.create(account);
  }

  async get(ref: string): Promise<Account> {
    const account = await this.accounts.find(ref);
    if (!account) throw new Problem("not-found", `There is no account "${ref}".`);
    return account;
  }

  /** Changing the plan resets the limits to the new plan's, unless the update sets them too. */
  /** Account handles in order, at most `limit`. */
  handles(limit: number): Promise<string[]> {
    return this.accounts.handles(limit);
  }

  async update(ref: string, update: AccountUpdate): Promise<Account> {
    const account = await this.get(ref);
    const limits = update.plan !== undefined ? this.planOf(update.plan) : {};
    const merged = { ...limits, ...withoutUndefined(update) };
    this.checkShapes(merged.allowedShapes ?? account.allowedShapes, merged.profiles ?? account.profiles);
    return this.accounts.update(account.id, merged);
  }

  async setFeature(ref: string, feature: string, enabled: boolean): Promise<Account> {
    if (feature !== REMOTE_BUILDER_FEATURE) {
      throw new Problem(
        "invalid-request",
        `There is no feature "${feature}"; the one feature is ${REMOTE_BUILDER_FEATURE}.`,
      );
    }
    return this.accounts.setFeature((await this.get(ref)).id, feature, enabled);
  }

  /** Mints a token; the returned secret is the only copy there will ever be. */
  async mintToken(ref: string, name: string): Promise<{ token: string; record: AgentToken }> {
    const account = await this.get(ref);
    const { token, hash, prefix } = generateAgentToken();
    return { token, record: await this.accounts.createToken(account.id, name, hash, prefix) };
  }

  async listTokens(ref: string): Promise<AgentToken[]> {
    return this.accounts.listTokens((await this.get(ref)).id);
  }

  async revokeToken(ref: string, tokenId: string): Promise<AgentToken> {
    const revoked = await this.accounts.revokeToken((await this.get(ref)).id, tokenId);
    if (!revoked) throw new Problem("not-found", `The account "${ref}" has no token ${tokenId}.`);
    return revoked;
  }

  private planOf(name: string) {
    const plan = Object.hasOwn(this.plans, name) ? this.plans[name] : undefined;
    if (!plan) {
      throw new Problem(
        "invalid-request",
        `There is no plan "${name}". Plans: ${Object.keys(this.plans).join(", ")}.`,
      );
    }
    return plan;
  }

  private checkShapes(allowed: string[], profiles: Record<string, string>): void {
    const unknown = [...allowed, ...Object.values(profiles)].filter((s) => !Object.hasOwn(this.catalog, s));
    if (unknown.length > 0) {
      throw new Problem(
        "unknown-shape",
        `No such shape: ${[...new Set(unknown)].join(", ")}. Shapes: ${Object.keys(this.catalog).join(", ")}.`,
        { shapes: Object.keys(this.catalog) },
      );
    }
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
