import { ApiError, type Credential, type TokenSource } from "./api-client.js";

/** Only credentials from the OIDC exchange expire and are renewed; agent tokens never. */
export const isRenewable = (token: string) => token.startsWith("rbc_");

/** A credential as a client keeps it, in this machine's time (the service's clock may differ). */
export interface HeldCredential {
  credential: string;
  /** When the service stops taking it. */
  expiresAt: number;
  /** When to renew it: half its lifetime after it came. */
  renewAt: number;
}

/** The credential in `answer` (an exchange's or a refresh's), received at `now`. */
export function heldCredential(answer: Pick<Credential, "credential" | "expiresIn">, now: number) {
  const lifetimeMs = answer.expiresIn * 1000;
  return { credential: answer.credential, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs / 2 };
}

export interface RenewalOptions {
  /** POST /api/v1/auth/refresh with the credential given. */
  refresh(credential: string): Promise<Credential>;
  /** A credential got another way, from the CI's identity token (which may be good only once). */
  exchange(): Promise<Credential>;
  /** Told of each new credential: the CLI writes it where its next step reads it. */
  onRenewed?: (held: HeldCredential) => void;
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * An exchanged credential that renews itself: once half its lifetime has passed, and once after a
 * 401, it asks the service for a new one with the same scope, so that a build outlives the hour of
 * a credential from an identity token the CI gives only once (GitLab, CircleCI). When renewal is no
 * longer allowed, or the credential is already gone, it exchanges the CI's identity token again,
 * which works where the CI hands out fresh ones (GitHub Actions, Buildkite).
 */
export class RenewingCredential implements TokenSource {
  private renewable = true;
  private inFlight: Promise<string> | null = null;

  constructor(
    private held: HeldCredential | null,
    private readonly options: RenewalOptions,
  ) {}

  current(): HeldCredential | null {
    return this.held;
  }

  async token(): Promise<string> {
    const held = this.held;
    if (!held) return this.once(() => this.replace("exchanged", this.options.exchange()));
    if (!this.due(held)) return held.credential;
    try {
      return await this.once(() => this.renew(held));
    } catch (err) {
      // The one in hand is still good until it expires; a 401 then comes back through refresh().
      this.log(`credential renewal failed, keeping the current one: ${(err as Error).message}`);
      return held.credential;
    }
  }

  /** After a 401: renewed once if it can be, else exchanged again. */
  async refresh(): Promise<string> {
    return this.once(async () => {
      const held = this.held;
      if (held && this.renewable && isRenewable(held.credential)) {
        try {
          return await this.renew(held);
        } catch (err) {
          this.log(
            `credential renewal failed, exchanging the identity token again: ${(err as Error).message}`,
          );
        }
      }
      return this.replace("exchanged", this.options.exchange());
    });
  }

  private due(held: HeldCredential): boolean {
    return this.renewable && isRenewable(held.credential) && this.now() >= held.renewAt;
  }

  private async renew(held: HeldCredential): Promise<string> {
    try {
      return await this.replace("renewed", this.options.refresh(held.credential));
    } catch (err) {
      // Past the build deadline (or an agent token): asking again will not help.
      if (err instanceof ApiError && err.kind === "refresh-not-allowed") this.renewable = false;
      throw err;
    }
  }

  private async replace(how: string, answer: Promise<Credential>): Promise<string> {
    const got = heldCredential(await answer, this.now());
    this.held = got;
    this.renewable = true;
    this.log(`credential ${how}; it expires in ${Math.round((got.expiresAt - this.now()) / 1000)} s`);
    this.options.onRenewed?.(got);
    return got.credential;
  }

  /** One renewal at a time: callers that come while one is under way share its outcome. */
  private once(work: () => Promise<string>): Promise<string> {
    this.inFlight ??= work().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
