import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@verity/postgres/testing/globalSetup"],
    testTimeout: 120_000,
    // Installing from the registry on a loaded machine can take minutes; each registry request is bounded.
    hookTimeout: 600_000
  }
})
