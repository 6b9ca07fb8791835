import { Octokit } from "@octokit/rest";
import type { OwnerDirectory, ResolvedOwner } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";

export interface GitHubDirectoryOptions {
  /** https://api.github.com, or a GitHub Enterprise Server's https://<host>/api/v3. */
  baseUrl: string;
  /** Optional: raises the rate limit and reaches private repositories. */
  token: string | null;
  timeoutMs: number;
}

/** Resolves GitHub owner and repository names to their numeric ids, once, when a relationship is added. */
export class GitHubOwnerDirectory implements OwnerDirectory {
  private readonly octokit: Octokit;

  constructor(private readonly options: GitHubDirectoryOptions) {
    this.octokit = new Octokit({
      baseUrl: options.baseUrl.replace(/\/$/, ""),
      ...(options.token ? { auth: options.token } : {}),
      userAgent: "remote-builder",
      request: { retries: 0, timeout: options.timeoutMs },
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
  }

  async resolve(owner: string, repository: string | null): Promise<ResolvedOwner> {
    try {
      if (repository !== null) {
        const { data } = await this.octokit.rest.repos.get({ owner, repo: repository });
        return {
          ownerId: String(data.owner.id),
          ownerName: data.owner.login,
          repositoryId: String(data.id),
          repositoryName: data.full_name,
        };
      }
      const { data } = await this.octokit.rest.users.getByUsername({ username: owner });
      return { ownerId: String(data.id), ownerName: data.login, repositoryId: null, repositoryName: null };
    } catch (err) {
      const status = (err as { status?: number }).status;
      const what = repository === null ? `the owner ${owner}` : `the repository ${owner}/${repository}`;
      if (status === 404) {
        throw new Problem(
          "not-found",
          `GitHub (${this.options.baseUrl}) has no ${what.replace(/^the /, "")}` +
            (repository !== null
              ? " visible to the service (set RB_GITHUB_TOKEN for private repositories)."
              : ".") +
            " Check the name, or give the numeric ownerId and repositoryId instead.",
        );
      }
      throw new Problem(
        "unavailable",
        `GitHub (${this.options.baseUrl}) could not resolve ${what}: ${status ? `it answered ${status}` : (err as Error).message}. ` +
          "Retry, or give the numeric ownerId and repositoryId instead.",
        {},
        5,
      );
    }
  }
}
