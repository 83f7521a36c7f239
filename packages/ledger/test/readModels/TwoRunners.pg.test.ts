/**
 * Two runner processes on one database: each read model is owned by exactly one of them at a time (one
 * advisory lock per active generation, one owner in status, and every event applied once), and when the
 * owner of a read model is killed -9 the other process takes it over and applies the new events.
 */
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { assertExactlyOnce } from "../support/Consistency.ts"
import { command as c, execAll, READ_MODELS, waitAll } from "../support/Ledger.ts"
import { observerLayer, startRunner } from "../support/Runners.ts"
import * as Workload from "../support/Workload.ts"

/** The owner of every read model, once each has a fresh heartbeat (at most `seconds` to get there). */
const owners = (accept: (owners: ReadonlyArray<string>) => boolean, seconds: number) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    let seen: ReadonlyArray<string> = []
    return yield* Effect.gen(function*() {
      while (true) {
        const statuses = yield* Effect.forEach(READ_MODELS, (name) => projections.statusOf(name))
        seen = statuses.map((s) => `${s.active?.owner ?? "none"}${(s.active?.heartbeatAgeSeconds ?? 99) < 5 ? "" : " (stale)"}`)
        if (statuses.every((s) => (s.active?.heartbeatAgeSeconds ?? 99) < 5) && accept(statuses.map((s) => s.active!.owner!))) {
          return statuses.map((s) => s.active!.owner!)
        }
        yield* Effect.sleep("50 millis")
      }
    }).pipe(
      Effect.timeoutOrElse({ duration: `${seconds} seconds`, orElse: () => Effect.die(new Error(`owners never settled: ${seen.join(", ")}`)) })
    )
  }).pipe(Effect.orDie)

/** Session advisory locks held on this database (the runners' projection locks). */
const advisoryLocks = Effect.gen(function*() {
  const sql = yield* SqlClient
  const rows = yield* sql<{ readonly pid: number }>`
    SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`
  return rows.map((row) => row.pid)
}).pipe(Effect.orDie)

forEachDatabase((target) => {
  describe("two runner processes", () => {
    it.live("one owner per read model; kill -9 the owner and the other takes over", () =>
      Effect.gen(function*() {
        const keys = MasterKeys.generate("k1")
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const observer = yield* Layer.build(observerLayer(url, keys))
        yield* Effect.gen(function*() {
          const [a, b] = yield* Effect.all([
            startRunner({ url, masterKeys: keys, owner: "runner-a", batchSize: 50 }),
            startRunner({ url, masterKeys: keys, owner: "runner-b", batchSize: 50 })
          ], { concurrency: 2 })
          const first = yield* Workload.write({ accounts: 12, opsPerAccount: 30, transfers: 40, seed: 7 })
          yield* waitAll(first.checkpoint, "60 seconds")

          const before = yield* owners((o) => o.every((owner) => owner === "runner-a" || owner === "runner-b"), 20)
          // Exactly one lock per read model (its active generation), each event applied once.
          assert.strictEqual((yield* advisoryLocks).length, READ_MODELS.length, "one advisory lock per read model")
          yield* assertExactlyOnce(first.accountIds)

          const victim = before[0] === "runner-a" ? a : b
          const survivor = victim === a ? b : a
          yield* victim.kill9
          assert.isFalse(victim.alive())
          const after = yield* owners((o) => o.every((owner) => owner === survivor.owner), 30)
          assert.deepStrictEqual(after, READ_MODELS.map(() => survivor.owner))

          // New events are applied by the survivor.
          const id = first.accountIds[0]!
          yield* waitAll(
            yield* execAll([c.deposit(id, 1_000, "EUR", Date.UTC(2027, 1, 1)), c.withdraw(id, 1, "EUR", Date.UTC(2027, 1, 2))]),
            "60 seconds"
          )
          assert.strictEqual((yield* advisoryLocks).length, READ_MODELS.length)
          yield* assertExactlyOnce(first.accountIds)
          assert.isTrue(survivor.alive(), survivor.output())
        }).pipe(Effect.provide(observer))
      }).pipe(Effect.scoped), 180_000)
  })
})
