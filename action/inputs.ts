import * as core from "@actions/core";

/** Every input the Action reads, read and checked here only, with an error that says what to write. */
export interface ActionInputs {
  serverUrl: string;
  audience: string;
  token: string | undefined;
  account: string | undefined;
  shape: string | undefined;
  cache: "wait" | "cold";
  waitTimeoutSeconds: number;
  name: string | undefined;
  use: boolean;
  cleanup: boolean;
  jobStatus: string;
}

export function readInputs(): ActionInputs {
  const optional = (name: string) => core.getInput(name) || undefined;
  const serverUrl = core.getInput("server-url") || "https://remote-builder.tuist.dev";
  if (!/^https?:\/\/[^\s/]+/.test(serverUrl)) {
    throw new Error(
      `server-url must be an http(s) URL, like https://remote-builder.tuist.dev; got "${serverUrl}"`,
    );
  }
  const cache = core.getInput("cache") || "wait";
  if (cache !== "wait" && cache !== "cold") {
    throw new Error(`cache must be "wait" (for the account's warm cache volume) or "cold"; got "${cache}"`);
  }
  const token = optional("token");
  if (token) core.setSecret(token);
  return {
    serverUrl,
    audience: core.getInput("audience") || "remote-builder",
    token,
    account: optional("account"),
    shape: optional("shape"),
    cache,
    waitTimeoutSeconds: duration("wait-timeout", core.getInput("wait-timeout") || "600"),
    name: optional("name"),
    use: flag("use", true),
    cleanup: flag("cleanup", true),
    jobStatus: core.getInput("job-status") || "success",
  };
}

function duration(input: string, value: string): number {
  const match = /^(\d+)\s*(s|m)?$/.exec(value.trim());
  if (!match) throw new Error(`${input} must be seconds ("300") or minutes ("5m"); got "${value}"`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

function flag(input: string, fallback: boolean): boolean {
  const value = core.getInput(input).toLowerCase();
  if (value === "") return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new Error(`${input} must be true or false; got "${value}"`);
}
