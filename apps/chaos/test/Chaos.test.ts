/**
 * A bounded chaos run in the suite: 2 APIs and 1 projection worker on a database of their own, about 40 s of
 * idempotent load, with the faults forced at chosen moments (two API kills, a worker kill, a database
 * restart, every connection terminated) so that their counts are exact. Every check of the run must hold.
 * And a short run without faults whose ledger is damaged before the checks (a deposit applied twice): the
 * checks must see it, so they cannot pass vacuously.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Fs from "node:fs/promises"
import { Chaos, type Faults, Report } from "../src/index.ts"

/** Appends a second copy of the first deposit (same data, same metadata and so the same idempotency key). */
const duplicateADeposit = (databaseUrl: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      WITH original AS (
        SELECT stream_id, category, type, schema_version, data, metadata FROM verity.events
        WHERE type = 'MoneyDeposited' ORDER BY position LIMIT 1
      ), bumped AS (
        -- The version as the stream's row has it now (an append that committed meanwhile included).
        UPDATE verity.streams SET version = version + 1, last_transaction_id = pg_current_xact_id()
        WHERE stream_id = (SELECT stream_id FROM original) RETURNING version
      )
      INSERT INTO verity.events (stream_id, category, version, event_id, type, schema_version, data, metadata)
      SELECT o.stream_id, o.category, b.version, gen_random_uuid(), o.type, o.schema_version, o.data, o.metadata
      FROM original o, bumped b`
  }).pipe(
    // The process manager may still be appending to that account: a clash on its version is tried again.
    Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 20 }),
    Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))
  )

const schedule: ReadonlyArray<Faults.ScheduledFault> = [
  { atMs: 5_000, fault: { _tag: "KillApi", index: 0 } },
  { atMs: 11_000, fault: { _tag: "KillWorker", index: 0 } },
  { atMs: 17_000, fault: { _tag: "RestartDatabase" } },
  { atMs: 25_000, fault: { _tag: "TerminateConnections" } },
  { atMs: 31_000, fault: { _tag: "KillApi", index: 1 } }
]

describe("chaos run", () => {
  it.live("2 APIs + 1 worker under kills, a database restart and terminated connections keep the ledger exact", () =>
    Effect.gen(function*() {
      const report = yield* Chaos.run({
        durationMs: 38_000,
        apis: 2,
        workers: 1,
        accounts: 8,
        clients: 6,
        seed: 9,
        faults: schedule,
        databaseDownMs: 2_000,
        progress: (line) => process.stderr.write(`[chaos] ${line}\n`)
      })
      process.stderr.write(`${Report.render(report)}\n`)
      assert.deepStrictEqual(report.counts, { apiKills: 2, workerKills: 1, databaseRestarts: 1, connectionTerminations: 1 })
      assert.strictEqual(report.faults.filter((f) => f.recoveredMs !== undefined).length, schedule.length)
      assert.isAbove(report.traffic.acknowledged, 100)
      // Each check by name, so a failure says which guarantee broke and why.
      for (const check of report.checks) assert.isTrue(check.passed, `${check.name}: ${check.detail}`)
      assert.isTrue(report.passed)
    }), { timeout: 240_000 })

  it.live("the checks catch a deposit applied twice", () =>
    Effect.gen(function*() {
      const report = yield* Chaos.run({
        durationMs: 6_000,
        apis: 1,
        workers: 1,
        accounts: 3,
        clients: 3,
        seed: 5,
        faults: [],
        beforeChecks: duplicateADeposit
      })
      const verdicts = Object.fromEntries(report.checks.map((c) => [c.name, c.passed]))
      assert.strictEqual(verdicts["exactly once"], false)
      assert.strictEqual(verdicts["money conserved"], false)
      // The duplicate is a well-formed event: the read models follow it, so they still verify.
      assert.strictEqual(verdicts["read models verify"], true)
      assert.strictEqual(verdicts["caught up"], true)
      assert.isFalse(report.passed)
      assert.include(report.checks.find((c) => c.name === "exactly once")?.detail ?? "", "2 MoneyDeposited events")
      yield* Effect.promise(() => Fs.rm(report.folder, { recursive: true, force: true }))
    }), { timeout: 180_000 })
})
