/**
 * A bounded chaos run in the suite: 2 APIs and 1 projection worker on a database of their own, about 40 s of
 * idempotent load, with the faults forced at chosen moments (two API kills, a worker kill, a database
 * restart, every connection terminated) so that their counts are exact. Every check of the run must hold.
 * And a short run without faults whose ledger is damaged before the checks (a deposit applied twice): the
 * checks must see it, so they cannot pass vacuously.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs/promises"
import { SqlClient } from "effect/sql/SqlClient"
import { Chaos, Faults, Report } from "../src/index.ts"

/** Appends a second copy of the first deposit (same data, same metadata and so the same idempotency key). */
const duplicateADeposit = (databaseUrl: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      WITH original AS (
        SELECT e.stream_id, e.category, e.type, e.schema_version, e.data, e.metadata, s.version
        FROM verity.events e JOIN verity.streams s USING (stream_id)
        WHERE e.type = 'MoneyDeposited' ORDER BY e.position LIMIT 1
      ), bumped AS (
        UPDATE verity.streams SET version = version + 1 WHERE stream_id = (SELECT stream_id FROM original)
      )
      INSERT INTO verity.events (stream_id, category, version, event_id, type, schema_version, data, metadata)
      SELECT stream_id, category, version + 1, gen_random_uuid(), type, schema_version, data, metadata FROM original`
  }).pipe(Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))))

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
