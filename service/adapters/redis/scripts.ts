import { readdirSync, readFileSync } from "node:fs";
import type { Redis } from "ioredis";

const SCRIPT_DIR = new URL("./scripts/", import.meta.url);

/**
 * Registers every `scripts/<name>-<keys>.lua` as a command on the client, named `<name>`, with
 * its key count taken from the file name (the BullMQ convention).
 */
export function defineScripts(redis: Redis): void {
  for (const file of readdirSync(SCRIPT_DIR)) {
    const match = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name, keys] = match as unknown as [string, string, string];
    redis.defineCommand(name, {
      numberOfKeys: Number(keys),
      lua: readFileSync(new URL(file, SCRIPT_DIR), "utf8"),
    });
  }
}
