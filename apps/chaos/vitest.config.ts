import { defineConfig } from "vitest/config"

// The chaos test starts its own embedded PostgreSQL (it kills and restarts it), so no shared database setup.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 60_000
  }
})
