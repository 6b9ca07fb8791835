/**
 * OIDC exchange benchmark: `npm run bench:oidc`.
 *
 * Starts a Redis (AOF on) and a PostgreSQL of its own in a temp folder, an OIDC issuer on loopback
 * (discovery document and JWKS, a real RSA-2048 key), and the service in this process, with one
 * account that trusts the token's owner. It pre-signs BENCH_TOKENS (default 12,000) GitHub-shaped
 * tokens, each with its own jti, warms the key and trust caches with a few hundred exchanges, then
 * measures, with BENCH_CONCURRENCY (default 32) in flight:
 *
 * 1. bare verify: jose's jwtVerify of the same tokens with the key in hand (same options:
 *    RS256, issuer, audience, 30 s leeway), nothing else;
 * 2. exchanges: OidcExchange.exchange, all the service does for POST /api/v1/auth/oidc past HTTP:
 *    the checks before jose, jose's verify with the cached JWKS key, the claim mapping, trust
 *    matching, the jti replay SET NX in Redis and the hashed credential SET in Redis;
 * 3. for information, the same exchanges over HTTP to the running service (loopback, keep-alive,
 *    the client in the same process).
 *
 * Target: ≥ 2,000 exchanges/s, within 2× of the bare verify. The last line is
 * `RESULT exchanges_per_s=<n> bare_verify_per_s=<n>` (phase 2 beside phase 1).
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { importJWK, jwtVerify } from "jose";
import { pino } from "pino";
import { memoryDriver } from "../test/doubles/memory-driver.js";
import { loadTestConfig } from "../test/harness/context.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { startService } from "../service/server.js";
import { AUDIENCE, githubClaims, TestIssuer } from "../test/oidc/fixtures.js";

const TOKENS = Number(process.env.BENCH_TOKENS ?? 12_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP = 500;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** Runs `work` over `items` with `concurrency` in flight; returns items per second. */
async function rate<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
  return items.length / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-oidc-"));
  chmodSync(root, 0o755);
  const [redis, postgres, issuer] = await Promise.all([
    startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
    startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
    TestIssuer.start(),
  ]);
  const config = loadTestConfig({
    RB_DATABASE_URL: await postgres.createDatabase("bench"),
    RB_REDIS_URL: redis.url,
    RB_ADMIN_TOKEN: "bench-admin-token-0123456789abcdef0123456789",
    RB_PORT: "0",
    RB_BROKER_PORT: "0",
    RB_LOG_LEVEL: "warn",
    RB_OIDC_AUDIENCE: AUDIENCE,
    RB_OIDC_ISSUERS: JSON.stringify([{ name: "github", kind: "github", issuer: issuer.url }]),
  });
  const service = await startService(config, { logger: pino({ level: "warn" }), driver: memoryDriver() });
  try {
    const account = await service.accounts.create({ handle: "bench" });
    await service.trust.add(account.id, { ownerId: "1001" });
    log(
      `oidc bench: ${cpus().length} CPUs, ${TOKENS} tokens, ${CONCURRENCY} in flight, Node ${process.version}`,
    );

    let t = performance.now();
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS + WARMUP * 2; i += 256) {
      const batch = Math.min(256, TOKENS + WARMUP * 2 - i);
      tokens.push(...(await Promise.all(Array.from({ length: batch }, () => issuer.token(githubClaims())))));
    }
    log(
      `signed ${tokens.length} tokens in ${((performance.now() - t) / 1000).toFixed(1)} s (RS256, 2048-bit)`,
    );
    const warm = tokens.splice(0, WARMUP);
    const httpTokens = tokens.splice(0, WARMUP);

    for (const token of warm.slice(0, 50)) await service.oidc.exchange(token);
    await rate(warm.slice(50), CONCURRENCY, (token) => service.oidc.exchange(token));
    log(`JWKS fetched ${issuer.jwksFetches} time(s)`);

    const key = await importJWK(issuer.key.jwk, "RS256");
    const options = { algorithms: ["RS256"], issuer: issuer.url, audience: AUDIENCE, clockTolerance: 30 };
    // Alternate the two, so that neither has the machine's quieter moment to itself.
    const half = Math.floor(tokens.length / 2);
    const rounds: Array<{ bare: number; exchange: number }> = [];
    for (const slice of [tokens.slice(0, half), tokens.slice(half)]) {
      const bare = await rate(slice, CONCURRENCY, (token) => jwtVerify(token, key, options));
      const exchange = await rate(slice, CONCURRENCY, (token) => service.oidc.exchange(token));
      rounds.push({ bare, exchange });
      log(
        `round: bare verify ${Math.round(bare)}/s, exchanges ${Math.round(exchange)}/s (${(bare / exchange).toFixed(2)}× apart)`,
      );
    }
    const bare = Math.max(...rounds.map((r) => r.bare));
    const exchanges = Math.max(...rounds.map((r) => r.exchange));

    t = performance.now();
    const overHttp = await rate(httpTokens, CONCURRENCY, async (token) => {
      const response = await fetch(`${service.url}/api/v1/auth/oidc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
      if (response.status !== 200)
        throw new Error(`exchange answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    });
    const healthz = await rate(Array.from({ length: 2000 }), CONCURRENCY, async () => {
      await (await fetch(`${service.url}/healthz`)).arrayBuffer();
    });
    log(
      `over HTTP (for information): ${Math.round(overHttp)} exchanges/s; GET /healthz on the same loop: ${Math.round(healthz)}/s`,
    );

    const met = exchanges >= 2000 && bare / exchanges <= 2;
    log(
      `target ≥ 2,000 exchanges/s within 2× of bare verify: ${met ? "met" : "MISSED"} ` +
        `(${Math.round(exchanges)}/s, ${(bare / exchanges).toFixed(2)}× of ${Math.round(bare)}/s)`,
    );
    log(`RESULT exchanges_per_s=${Math.round(exchanges)} bare_verify_per_s=${Math.round(bare)}`);
  } finally {
    await service.stop();
    await issuer.stop();
    await Promise.all([redis.stop(), postgres.stop()]);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
