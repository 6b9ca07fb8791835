/**
 * The DNS name a builder's server certificate carries, and the broker checks when it dials the
 * builder of a build. It names the builder, not a build: idle and warm builders serve one build
 * after another.
 */
export function builderServerName(builderId: string): string {
  return `${builderId}.builders.remote-builder.internal`;
}
