/**
 * Stand-ins at the process boundary for the OIDC tests: a real HTTP OIDC issuer on loopback (a
 * discovery document and a JWKS, with real RSA keys made by jose), and a local HTTP server that
 * speaks the two GitHub REST routes the service calls.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export interface SigningKey {
  kid: string;
  privateKey: PrivateKey;
  jwk: JWK;
}

export async function signingKey(kid = `k-${randomUUID().slice(0, 8)}`): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", {
    extractable: true,
    modulusLength: 2048,
  });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return server;
}

const close = (server: Server) =>
  new Promise<void>((ok) => {
    server.closeAllConnections();
    server.close(() => ok());
  });

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** An OIDC issuer on loopback: `/.well-known/openid-configuration` and `/jwks`. */
export class TestIssuer {
  keys: SigningKey[] = [];
  /** What the JWKS route serves; null: the published keys. */
  jwksOverride: unknown = null;
  /** 0: up; otherwise the status both routes answer. */
  failWith = 0;
  jwksFetches = 0;
  private constructor(
    private server: Server | null,
    private port: number,
  ) {}

  static async start(): Promise<TestIssuer> {
    const issuer = new TestIssuer(null, 0);
    issuer.server = await listen((req, res) => issuer.handle(req, res));
    issuer.port = (issuer.server.address() as AddressInfo).port;
    issuer.keys.push(await signingKey());
    return issuer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get key(): SigningKey {
    return this.keys[0]!;
  }

  /** Stops answering at all (connection refused), until `up()`. */
  async down(): Promise<void> {
    if (this.server) await close(this.server);
    this.server = null;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((ok) => server.listen(this.port, "127.0.0.1", ok));
    this.server = server;
  }

  async stop(): Promise<void> {
    await this.down();
  }

  /** A token signed by `key` (the first published key by default), with `claims` over a base set. */
  async token(
    claims: Record<string, unknown> = {},
    options: { key?: SigningKey; header?: Record<string, unknown>; omit?: string[] } = {},
  ): Promise<string> {
    const key = options.key ?? this.key;
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: this.url,
      aud: AUDIENCE,
      iat: now,
      nbf: now,
      exp: now + 300,
      jti: randomUUID(),
      ...claims,
    };
    for (const name of options.omit ?? []) delete payload[name];
    const jwt = new SignJWT(payload).setProtectedHeader({
      alg: "RS256",
      kid: key.kid,
      typ: "JWT",
      ...options.header,
    });
    return jwt.sign(key.privateKey);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.failWith) return json(res, this.failWith, { error: "down" });
    if (req.url === "/.well-known/openid-configuration") {
      return json(res, 200, { issuer: this.url, jwks_uri: `${this.url}/jwks` });
    }
    if (req.url === "/jwks") {
      this.jwksFetches++;
      return json(res, 200, this.jwksOverride ?? { keys: this.keys.map((k) => k.jwk) });
    }
    json(res, 404, {});
  }
}

export const AUDIENCE = "https://builds.test.example";

/** GitHub Actions' claims for a push to main of acme/app (owner id 1001, repository id 2002). */
export function githubClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: "repo:acme/app:ref:refs/heads/main",
    repository: "acme/app",
    repository_id: "2002",
    repository_owner: "acme",
    repository_owner_id: "1001",
    ref: "refs/heads/main",
    ref_type: "branch",
    workflow: "CI",
    job_workflow_ref: "acme/app/.github/workflows/ci.yml@refs/heads/main",
    event_name: "push",
    run_id: "987654",
    run_attempt: "1",
    ...overrides,
  };
}

/** GitLab CI's id_tokens claims for a push to main of group/project (namespace 72, project 20). */
export function gitlabClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: "project_path:group/project:ref_type:branch:ref:main",
    namespace_id: "72",
    namespace_path: "group",
    project_id: "20",
    project_path: "group/project",
    ref: "main",
    ref_type: "branch",
    ref_protected: "true",
    pipeline_source: "push",
    pipeline_id: "1212",
    job_id: "3434",
    ci_config_ref_uri: "gitlab.example.com/group/project//.gitlab-ci.yml@refs/heads/main",
    ...overrides,
  };
}

export interface GitHubEntity {
  id: number;
  login: string;
  repos?: Record<string, number>;
}

/** The two GitHub REST routes the service calls: GET /users/{name} and GET /repos/{owner}/{repo}. */
export class FakeGitHub {
  owners = new Map<string, GitHubEntity>();
  requests: string[] = [];
  failWith = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeGitHub> {
    let github: FakeGitHub | null = null;
    const server = await listen((req, res) => github!.handle(req, res));
    github = new FakeGitHub(server);
    return github;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    if (this.failWith) return json(res, this.failWith, { message: "Server Error" });
    const path = new URL(req.url ?? "/", this.url).pathname.split("/").map(decodeURIComponent);
    const owner = this.owners.get((path[2] ?? "").toLowerCase());
    if (req.method === "GET" && path[1] === "users" && path.length === 3 && owner) {
      return json(res, 200, { login: owner.login, id: owner.id, type: "Organization" });
    }
    if (req.method === "GET" && path[1] === "repos" && path.length === 4 && owner) {
      const repo = Object.entries(owner.repos ?? {}).find(
        ([name]) => name.toLowerCase() === path[3]!.toLowerCase(),
      );
      if (repo) {
        return json(res, 200, {
          id: repo[1],
          name: repo[0],
          full_name: `${owner.login}/${repo[0]}`,
          owner: { login: owner.login, id: owner.id, type: "Organization" },
          default_branch: "main",
        });
      }
    }
    json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  }
}

/** Environment for a test service that trusts `issuers` and resolves names through `github`. */
export function oidcEnv(
  issuers: Array<{ name: string; kind: string; issuer: TestIssuer; audience?: string }>,
  github: FakeGitHub | null,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    RB_OIDC_AUDIENCE: AUDIENCE,
    RB_OIDC_ISSUERS: JSON.stringify(
      issuers.map((i) => ({
        name: i.name,
        kind: i.kind,
        issuer: i.issuer.url,
        ...(i.audience ? { audience: i.audience } : {}),
      })),
    ),
    RB_OIDC_JWKS_COOLDOWN_SECONDS: "0.2",
    ...(github ? { RB_GITHUB_API_URL: github.url } : {}),
    ...extra,
  };
}
