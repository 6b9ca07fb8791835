/** The shape catalog and per-account profiles (the RFC's Catalog and Profiles). */
export interface Shape {
  cpu: number;
  memoryGiB: number;
}

export type ShapeCatalog = Record<string, Shape>;

export interface ShapeRequest {
  shape?: string | undefined;
  profile?: string | undefined;
}

export interface ResolvedShape {
  shape: string;
  profile: string | null;
}

/**
 * A profile is an account's own label for a shape ("deploy" → "large"); a request names either.
 * Returns null when the name is in neither the catalog nor the account's profiles.
 */
export function resolveShape(
  request: ShapeRequest,
  profiles: Record<string, string>,
  catalog: ShapeCatalog,
  defaultShape: string,
): ResolvedShape | null {
  if (request.profile !== undefined) {
    // Own properties only: "constructor" or "toString" is no profile or shape.
    const shape = Object.hasOwn(profiles, request.profile) ? profiles[request.profile] : undefined;
    return shape !== undefined && Object.hasOwn(catalog, shape) ? { shape, profile: request.profile } : null;
  }
  const shape = request.shape ?? defaultShape;
  return Object.hasOwn(catalog, shape) ? { shape, profile: null } : null;
}
