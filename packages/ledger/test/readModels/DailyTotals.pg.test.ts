/**
 * The daily totals read model, end to end: money moved on several UTC days (including both sides of a
 * midnight) and in two currencies, through the real command handlers; `list` with and without filters.
 * Days come from the events' business time, so they are what the events say whatever the clock.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import { DailyTotals } from "../../src/ReadModels.ts"
import { command as c, execAll, ledgerLayer, uuid, waitAll } from "../support/Ledger.ts"

const lastMsOfMarch1 = Date.UTC(2025, 2, 1, 23, 59, 59, 999)
const march2 = Date.UTC(2025, 2, 2)
const march5 = Date.UTC(2025, 2, 5, 12)

const zero = { deposits: 0, withdrawals: 0, transfersIn: 0, transfersOut: 0, refunds: 0 }

forEachDatabase((target) => {
  layer(ledgerLayer(target), { excludeTestServices: true, timeout: "120 seconds" })("daily_totals", (it) => {
    it.effect("sums per UTC day and currency, with the movement count; filters by days and currency", () =>
      Effect.gen(function*() {
        const [eur1, eur2, usd] = [uuid(), uuid(), uuid()]
        const [t1, t2] = [uuid(), uuid()]
        const last = yield* execAll([
          c.open(eur1, "Eva Euro", "eva@example.com", "EUR", lastMsOfMarch1 - 10),
          c.open(eur2, "Emil Euro", "emil@example.com", "EUR", lastMsOfMarch1 - 9),
          c.open(usd, "Ulla Usd", "ulla@example.com", "USD", lastMsOfMarch1 - 8),
          c.deposit(eur1, 1_000, "EUR", lastMsOfMarch1 - 5),
          c.deposit(eur1, 500, "EUR", lastMsOfMarch1),
          c.withdraw(eur1, 300, "EUR", lastMsOfMarch1),
          c.deposit(usd, 50, "USD", lastMsOfMarch1),
          // One millisecond later it is March 2nd (UTC).
          c.deposit(usd, 7, "USD", march2),
          c.debit(eur1, t1, eur2, 200, "EUR", march2),
          c.credit(eur2, t1, eur1, 200, "EUR", march2 + 1),
          c.settle(eur1, t1, march2 + 2),
          c.debit(eur1, t2, usd, 100, "EUR", march2 + 3),
          c.refund(eur1, t2, march5)
        ])
        yield* waitAll(last)

        const all = yield* DailyTotals.list()
        assert.deepStrictEqual(all, [
          { day: "2025-03-01", currency: "EUR", ...zero, deposits: 1_500, withdrawals: 300, movements: 3 },
          { day: "2025-03-01", currency: "USD", ...zero, deposits: 50, movements: 1 },
          { day: "2025-03-02", currency: "EUR", ...zero, transfersIn: 200, transfersOut: 300, movements: 3 },
          { day: "2025-03-02", currency: "USD", ...zero, deposits: 7, movements: 1 },
          { day: "2025-03-05", currency: "EUR", ...zero, refunds: 100, movements: 1 }
        ])
        assert.deepStrictEqual(
          (yield* DailyTotals.list({ from: "2025-03-02", to: "2025-03-04" })).map((r) => `${r.day} ${r.currency}`),
          ["2025-03-02 EUR", "2025-03-02 USD"]
        )
        assert.deepStrictEqual((yield* DailyTotals.list({ currency: "USD" })).map((r) => r.day), ["2025-03-01", "2025-03-02"])
        assert.deepStrictEqual((yield* DailyTotals.list({ from: "2025-03-05" })).map((r) => r.refunds), [100])
        assert.deepStrictEqual(yield* DailyTotals.list({ from: "2025-02-30" }), [], "not a day")
        assert.strictEqual((yield* DailyTotals.list({ limit: 2 })).length, 2)

        // More money on an existing day adds to its row.
        yield* waitAll(yield* execAll([c.deposit(eur2, 11, "EUR", march5 + 1), c.withdraw(eur2, 1, "EUR", march5 + 2)]))
        assert.deepStrictEqual(yield* DailyTotals.list({ from: "2025-03-05", currency: "EUR" }), [
          { day: "2025-03-05", currency: "EUR", ...zero, deposits: 11, withdrawals: 1, refunds: 100, movements: 3 }
        ])
        const projections = yield* Projections.Projections
        const report = yield* projections.verify("daily_totals")
        assert.isTrue(report.consistent, JSON.stringify(report.tables))
      }))
  })
})
