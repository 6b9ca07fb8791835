import type * as Http from "node:http";
import type * as Https from "node:https";

/**
 * One HTTP request over node:http, for the Action and the CLI. Not `fetch`: its first call loads
 * and compiles undici, about a fifth of a second of every job step's CPU and wall time
 * (bench:headline), for the few small JSON calls a step makes. For the same reason the modules
 * are taken with getBuiltinModule, not `import`: an ES import of node:http reads every export,
 * and since Node 22 its WebSocket export loads undici too.
 */
const http = process.getBuiltinModule("node:http") as typeof Http;
const https = process.getBuiltinModule("node:https") as typeof Https;

export interface HttpAnswer {
  status: number;
  statusText: string;
  header(name: string): string | null;
  text: string;
}

/** Keep-alive, so a step's calls share one connection; idle sockets do not hold the process. */
const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

export function httpRequest(
  url: string,
  o: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: o.method,
        headers:
          o.body === undefined ? o.headers : { ...o.headers, "content-length": Buffer.byteLength(o.body) },
        agent: agents[target.protocol as keyof typeof agents],
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          clearTimeout(timer);
          resolve({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            header: (name) => {
              const value = response.headers[name.toLowerCase()];
              return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
            },
            text: Buffer.concat(chunks).toString("utf8"),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${o.timeoutMs} ms`);
      err.name = "TimeoutError";
      request.destroy(err);
    }, o.timeoutMs);
    timer.unref();
    request.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end(o.body);
  });
}
