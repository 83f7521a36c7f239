import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["../../packages/eventstore/src/testing/globalSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
