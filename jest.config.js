/** Jest in ESM mode: ts-jest only transpiles; `tsc --noEmit` does the type checking. */
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true, diagnostics: false }] },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  globalSetup: "<rootDir>/test/harness/global-setup.js",
  globalTeardown: "<rootDir>/test/harness/global-teardown.js",
  testTimeout: 60000,
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/harness/summary-reporter.js"],
};
