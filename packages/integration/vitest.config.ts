import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@verity/postgres/testing/globalSetup"],
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
