import { existsSync, readFileSync } from "node:fs";

/** What the CLI's commands share: where the service is, which token to send, one request helper. */
export function serverUrl(given: string | undefined): string {
  return (given ?? process.env.RB_SERVER_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
}

export function adminToken(given: string | undefined): string {
  const token = given ?? process.env.RB_ADMIN_TOKEN;
  if (token) return token;
  if (existsSync(".data/admin-token")) return readFileSync(".data/admin-token", "utf8").trim();
  throw new Error(
    "no admin token: pass --admin-token, set RB_ADMIN_TOKEN, or run from the folder where `remote-builder dev` runs",
  );
}

/** The service's answer to an admin request: its JSON, or a refusal already printed to stderr. */
export type Answer = { ok: true; body: unknown } | { ok: false };

export async function request(
  server: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(server + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new Error(
      `cannot reach ${server} (${(err as Error).cause ?? (err as Error).message}); is the service running?`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    const problem = safeJson(text) as { title?: string; detail?: string } | null;
    process.stderr.write(
      `${response.status} ${problem?.title ?? response.statusText}: ${problem?.detail ?? text}\n`,
    );
    return { ok: false };
  }
  return { ok: true, body: safeJson(text) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
