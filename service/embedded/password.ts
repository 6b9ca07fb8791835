import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** The file in each embedded store's data folder that holds its password (mode 0600). */
export const PASSWORD_FILE = "password";

/** Who owns a file when it is not us: the `postgres` user, when we are root. */
export type Owner = { uid: number; gid: number } | null;

/** 256 random bits, URL-safe (base64url), so it needs no quoting in a config file or SQL literal. */
export function randomPassword(): string {
  return randomBytes(32).toString("base64url");
}

/** Writes `password` to `path` (0600, owned by `owner`), whole or not at all. */
export function writePassword(path: string, password: string, owner: Owner = null): void {
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, `${password}\n`, { mode: 0o600 });
  chmodSync(partial, 0o600);
  if (owner) chownSync(partial, owner.uid, owner.gid);
  renameSync(partial, path);
}

/**
 * The password kept in `path`, made on first use. `created` says it is new, so a server whose data
 * predates it still has to be told. A file left wider than 0600 is closed again.
 */
export function readOrCreatePassword(
  path: string,
  owner: Owner = null,
): { password: string; created: boolean } {
  const kept = existsSync(path) ? readFileSync(path, "utf8").trim() : "";
  if (kept) {
    if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { password: kept, created: false };
  }
  const password = randomPassword();
  writePassword(path, password, owner);
  return { password, created: true };
}

/** Folders 0700 and files 0600 under (and including) `path`; symbolic links are left alone. */
export function closeTree(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (!stat.isDirectory()) {
    if ((stat.mode & 0o777) !== 0o600) chmodSync(path, 0o600);
    return;
  }
  if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
  for (const entry of readdirSync(path)) closeTree(join(path, entry));
}
