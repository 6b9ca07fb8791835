import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ADMIN_TOKEN, http } from "../harness/context.js";

/** Debian's chromium, which scripts/setup.sh installs; the browser tests say so and skip without it. */
export const CHROMIUM = process.env.RB_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumMissing = existsSync(CHROMIUM)
  ? null
  : `no chromium at ${CHROMIUM} (apt-get install chromium, as scripts/setup.sh does)`;

/** Screenshots for docs/dashboard.md, only when RB_SCREENSHOTS=1: normal runs leave the tree alone. */
export const SCREENSHOTS = process.env.RB_SCREENSHOTS === "1";
export function screenshotPath(name: string): string {
  const dir = fileURLToPath(new URL("../../docs/dashboard/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  return `${dir}${name}.png`;
}

/** A one-time sign-in link, as `remote-builder dashboard` gets it. */
export async function signInLink(base: string, token = ADMIN_TOKEN): Promise<string> {
  const res = await http<{ path: string; expiresAt: string }>(base, "POST", "/api/v1/dashboard/links", {
    token,
  });
  if (res.status !== 201) throw new Error(`no link: ${res.status} ${JSON.stringify(res.body)}`);
  return base + res.body.path;
}
