import { builderServerName } from "./builder-names.js";
import type { BuilderCredentials, CertificateIssuer, Clock } from "./ports.js";

/** How long a builder's server certificate lives. */
export const BUILDER_CERT_LIFETIME_MS = 7 * 24 * 3_600_000;

/**
 * A builder this old takes no new build, so its certificate outlives any build it serves (a
 * build's deadline is at most a day).
 */
export const BUILDER_MAX_REUSE_AGE_MS = BUILDER_CERT_LIFETIME_MS - 24 * 3_600_000;

/**
 * Builder credentials from the service's CA, named for the builder. The builder trusts the
 * broker's identity alone, never the CA that signs tenants' certificates.
 */
export function builderCredentials(certificates: CertificateIssuer, clock: Clock): BuilderCredentials {
  return {
    async issue(builderId) {
      const pair = await certificates.issueBuilder(builderId, clock.now() + BUILDER_CERT_LIFETIME_MS);
      return { ...pair, caPem: certificates.brokerIdentityCaPem, serverName: builderServerName(builderId) };
    },
  };
}
