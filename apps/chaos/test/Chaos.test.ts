/**
 * A bounded chaos run in the suite: 2 APIs and 1 projection worker on a database of their own, about 40 s of
 * idempotent load, with the faults forced at chosen moments (two API kills, a worker kill, a database
 * restart, every connection terminated) so that their counts are exact. Every check of the run must hold.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Chaos, Faults, Report } from "../src/index.ts"

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
})
