import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` (src/**\/__tests__: no registries, no images, no global setup; seconds)
 * and `integration` (test/**: the shared registries from the global setup, real images and
 * tools). `npm test` runs both; `npm run test:unit` / `npm run test:integration` one of them.
 */
export default defineConfig({
  test: {
    pool: "forks",
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["src/**/__tests__/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["test/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
