import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** What `service/core/` may not import: the domain core does no I/O and knows no adapter. */
const CORE_IS_PURE = {
  message:
    "service/core/ is the domain core: no I/O, no adapter; take what it needs as a port (core/ports.ts).",
  packages: [
    "express",
    "ioredis",
    "pg",
    "@kubernetes/client-node",
    "pino",
    "prom-client",
    "jose",
    "@peculiar/x509",
    "@octokit/rest",
    "@actions/core",
    "@actions/exec",
  ],
  builtins: ["http", "https", "http2", "net", "tls", "dgram", "dns", "fs", "fs/promises", "child_process"],
  // The service's other rooms, reached by a relative path from anywhere under core/.
  rooms: ["adapters", "http", "broker", "cli", "client", "certs", "embedded"],
  files: ["server", "config", "reconciler"],
};

export default tseslint.config(
  { ignores: ["node_modules", "dist", "build", "coverage", ".data", ".cache"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Type-aware: a promise nobody awaits or catches is an unhandled rejection, which ends the process.
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
    },
  },
  {
    files: ["service/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...CORE_IS_PURE.packages,
            ...CORE_IS_PURE.builtins.flatMap((name) => [name, `node:${name}`]),
          ].map((name) => ({ name, message: CORE_IS_PURE.message })),
          patterns: [
            {
              regex: `^(${CORE_IS_PURE.packages.join("|")})/`,
              message: CORE_IS_PURE.message,
            },
            {
              regex: `^(\\.\\./)+(${CORE_IS_PURE.rooms.join("|")})(/|$)`,
              message: CORE_IS_PURE.message,
            },
            {
              regex: `^(\\.\\./)+(${CORE_IS_PURE.files.join("|")})\\.js$`,
              message: CORE_IS_PURE.message,
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
