/** The DNS name a builder's server certificate carries, and the broker checks when it dials. */
export function builderServerName(buildId: string): string {
  return `${buildId}.builders.remote-builder.internal`;
}
