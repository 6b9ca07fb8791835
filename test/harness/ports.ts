import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { freePort } from "../../service/embedded/process.js";

/** The lowest port a restartable server is given: clear of the well-known and registered ones most used. */
const LOWEST = 10_000;

/**
 * A free loopback port the kernel never hands out by itself, for a server a test stops and starts
 * again on the same port. A port from `freePort()` is in the kernel's ephemeral range, and while
 * the server is down any outgoing loopback connection of a parallel test may be given it as its
 * local port, or another `freePort()` may return it; the restart then fails with "Address already
 * in use" (CI met it once). Below the range (`net.ipv4.ip_local_port_range`) only a fixed port can
 * collide, and the suite has none there.
 */
export async function restartablePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  if (ephemeralLow - 1 <= LOWEST) return freePort(); // No room below the range on this machine.
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (ephemeralLow - LOWEST));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${ephemeralLow - 1} in 100 tries`);
}

/** The kernel's ephemeral port range; Linux's default where it cannot be read. */
export function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // Not Linux, or /proc is not mounted.
  }
  return [32_768, 60_999];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
