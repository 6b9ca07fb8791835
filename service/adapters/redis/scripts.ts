import { readdirSync, readFileSync } from "node:fs";
import type { RedisClient } from "./client.js";

const SCRIPT_DIR = new URL("./scripts/", import.meta.url);

/**
 * Registers every `scripts/<name>-<keys>.lua` as a command on the client, named `<name>`, with
 * its key count taken from the file name (the BullMQ convention).
 */
export function defineScripts(redis: RedisClient): void {
  const seen = new Map<string, string>();
  for (const file of readdirSync(SCRIPT_DIR)) {
    const match = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name, keys] = match as unknown as [string, string, string];
    // A script renamed for a new key count, with its old file left beside it, would otherwise be
    // registered twice and the one read last would win.
    const other = seen.get(name);
    if (other) throw new Error(`${file} and ${other} both define the Redis script "${name}"`);
    seen.set(name, file);
    redis.defineCommand(name, {
      numberOfKeys: Number(keys),
      lua: readFileSync(new URL(file, SCRIPT_DIR), "utf8"),
    });
  }
}
