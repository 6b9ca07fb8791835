/**
 * What a certificate says about its holder, as a SAN URI: a build's client certificate names the
 * account and the build; the broker's own client certificate names the broker.
 */
export interface BuildIdentity {
  accountId: string;
  buildId: string;
}

const BUILD_URI = /^remote-builder:\/\/account\/([0-9a-f-]{36})\/build\/([0-9a-f-]{36})$/;

export function buildIdentityUri({ accountId, buildId }: BuildIdentity): string {
  return `remote-builder://account/${accountId}/build/${buildId}`;
}

export function parseBuildIdentityUri(uri: string): BuildIdentity | null {
  const match = BUILD_URI.exec(uri);
  return match ? { accountId: match[1]!, buildId: match[2]! } : null;
}

export const BROKER_URI = "remote-builder://broker";
