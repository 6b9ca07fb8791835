/**
 * Server-side apply of plain objects to a real API server, as `kubectl apply --server-side
 * --force-conflicts` with strict field validation: the server checks each object against its own
 * schemas and refuses an unknown or misspelled field rather than dropping it. Raw HTTP on
 * purpose: client-node's generic KubernetesObjectApi serializes through its typed models, which
 * silently drop fields they do not know.
 */
import { request } from "node:https";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The API server said no; the message is its Status message where it sent one. */
export class ApiRefusal extends Error {
  constructor(
    readonly status: number,
    body: string,
    what: string,
  ) {
    super(`${what}: ${status} ${statusMessage(body)}`);
  }
}

function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

export class ServerSideApply {
  private readonly discovered = new Map<string, Promise<ApiResource[]>>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly fieldManager = "remote-builder-tests",
  ) {}

  /** Applies `o` and returns what the server stored. */
  async apply<T extends KubernetesObject>(o: T): Promise<T> {
    const query = new URLSearchParams({
      fieldManager: this.fieldManager,
      force: "true",
      fieldValidation: "Strict",
    });
    const body = await this.call(
      "PATCH",
      `${await this.path(o)}?${query}`,
      JSON.stringify(o),
      "application/apply-patch+yaml",
    );
    return JSON.parse(body) as T;
  }

  /** Deletes `o`; gone already is fine. */
  async delete(o: KubernetesObject): Promise<void> {
    try {
      await this.call("DELETE", await this.path(o));
    } catch (err) {
      if (!(err instanceof ApiRefusal && err.status === 404)) throw err;
    }
  }

  /** The object's URL path, from the server's own discovery (kind → resource, and its scope). */
  private async path(o: KubernetesObject): Promise<string> {
    const apiVersion = o.apiVersion ?? "";
    const root = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!this.discovered.has(apiVersion)) {
      this.discovered.set(
        apiVersion,
        this.call("GET", root).then((text) => (JSON.parse(text) as { resources: ApiResource[] }).resources),
      );
    }
    const resource = (await this.discovered.get(apiVersion)!).find(
      (r) => r.kind === o.kind && !r.name.includes("/"),
    );
    if (!resource) throw new Error(`the API server has no ${apiVersion} ${o.kind}`);
    const { name, namespace } = o.metadata ?? {};
    const scope = resource.namespaced ? `/namespaces/${namespace ?? "default"}` : "";
    return `${root}${scope}/${resource.name}/${name}`;
  }

  private async call(method: string, path: string, body?: string, contentType?: string): Promise<string> {
    const server = new URL(this.kc.getCurrentCluster()!.server);
    const options: Parameters<KubeConfig["applyToHTTPSOptions"]>[0] = {
      method,
      hostname: server.hostname,
      port: server.port,
      path,
      headers: { Accept: "application/json", ...(contentType ? { "Content-Type": contentType } : {}) },
    };
    await this.kc.applyToHTTPSOptions(options);
    return new Promise((resolve, reject) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(text);
          else reject(new ApiRefusal(status, text, `${method} ${path}`));
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  }
}
