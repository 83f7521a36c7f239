/**
 * kill -9 in the middle of batches: a runner process catches up on a few thousand account events in small
 * batches and is SIGKILLed five times while it does (each time once it has passed another sixth of the
 * work, plus a random few milliseconds), then restarted. Once a last runner has caught up (and followed
 * some live writes), every read model has applied every event exactly once: the applied counts equal the
 * events the filters select, verify agrees with a recomputation, there is one transaction row per money
 * event, and all balances agree with each other and with the aggregates.
 */
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer } from "effect"
import { applied, assertExactlyOnce, expectedEvents } from "../support/Consistency.ts"
import { command as c, execAll, waitAll } from "../support/Ledger.ts"
import { observerLayer, startRunner } from "../support/Runners.ts"
import * as Workload from "../support/Workload.ts"

const KILLS = 5

forEachDatabase((target) => {
  describe("read models survive kill -9", () => {
    it.live("runners killed mid-batch five times, restarted: every event applied exactly once", () =>
      Effect.gen(function*() {
        const keys = MasterKeys.generate("k1")
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const observer = yield* Layer.build(observerLayer(url, keys))
        yield* Effect.gen(function*() {
          const workload = yield* Workload.write({ accounts: 30, opsPerAccount: 80, transfers: 220, seed: 20_261_123 })
          assert.isAtLeast(workload.events, 3_000)
          const total = (yield* expectedEvents)["account_summary"]!
          assert.strictEqual(total, workload.events)

          const killedAt: Array<number> = []
          for (let k = 1; k <= KILLS; k++) {
            const runner = yield* startRunner({ url, masterKeys: keys, owner: `crashing-${k}`, batchSize: 20 })
            const threshold = Math.floor((total * k) / (KILLS + 1))
            yield* eventually(`${threshold} events applied`, Effect.map(applied("account_summary"), (n) => n >= threshold), {
              timeout: "60 seconds",
              interval: "5 millis"
            })
            yield* Effect.sleep(`${Math.floor(Math.random() * 15)} millis`)
            yield* runner.kill9
            killedAt.push(yield* applied("account_summary"))
          }
          yield* Effect.logInfo(`killed at ${killedAt.join(", ")} of ${total} events (account_summary)`)
          // Every kill interrupted a catch-up that had made progress.
          assert.isTrue(killedAt.every((n, i) => i === 0 || n >= killedAt[i - 1]!), `progress kept: ${killedAt.join(",")}`)
          assert.isBelow(killedAt[KILLS - 1]!, total, `the last kill came before the end: ${killedAt.join(",")} of ${total}`)

          yield* startRunner({ url, masterKeys: keys, owner: "survivor", batchSize: 20 })
          yield* waitAll(workload.checkpoint, "90 seconds")
          // And it follows live writes after all that.
          const id = workload.accountIds[0]!
          yield* waitAll(yield* execAll([c.deposit(id, 99, "EUR", Date.UTC(2027, 0, 1)), c.withdraw(id, 9, "EUR", Date.UTC(2027, 0, 2))]))
          yield* assertExactlyOnce(workload.accountIds)
        }).pipe(Effect.provide(observer))
      }).pipe(Effect.scoped), 240_000)
  })
})
