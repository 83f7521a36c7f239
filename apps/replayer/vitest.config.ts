import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@verity/postgres/testing/globalSetup"],
    testTimeout: 180_000,
    hookTimeout: 180_000
  }
})
