import packageJson from "../../package.json" with { type: "json" };

/** The package's version, for `--version`: package.json is its one source (the bundles inline it). */
export const VERSION: string = packageJson.version;
