import { PgClient } from "@effect/sql-pg"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { databases, forEachDatabase, TestDatabase } from "../src/testing/index.ts"

describe("test databases", () => {
  it("has at least one target", () => {
    assert.isAbove(databases().length, 0)
  })
})

forEachDatabase((target) => {
  layer(TestDatabase.layer(target), { excludeTestServices: true })("a fresh database", (it) => {
    it.effect("is empty and reachable", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const rows = yield* sql<{ n: bigint }>`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`
        assert.strictEqual(rows[0]?.n, 0n)
      }))
  })
})
