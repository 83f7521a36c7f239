/**
 * The daily totals report (`GET /reports/daily-totals`): money moved through the API shows up under its
 * UTC day and currency; a currency filter narrows it; the range is validated (real days, from <= to, at
 * most 366 days, currency three capital letters), each refusal a typed 400; scope read.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)

interface Total {
  readonly day: string
  readonly currency: string
  readonly deposits: number
  readonly withdrawals: number
  readonly transfersIn: number
  readonly transfersOut: number
  readonly movements: number
}

/** The sums of every row (the movements may straddle midnight UTC: the range covers yesterday to tomorrow). */
const sum = (rows: ReadonlyArray<Total>) =>
  rows.reduce(
    (acc, r) => ({
      deposits: acc.deposits + r.deposits,
      withdrawals: acc.withdrawals + r.withdrawals,
      transfersIn: acc.transfersIn + r.transfersIn,
      transfersOut: acc.transfersOut + r.transfersOut,
      movements: acc.movements + r.movements
    }),
    { deposits: 0, withdrawals: 0, transfersIn: 0, transfersOut: 0, movements: 0 }
  )

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("reports", (it) => {
    it.effect("the day's deposits, withdrawals and transfers per currency", () =>
      Effect.gen(function*() {
        // CHF and JPY are used by no other test of this suite: the sums are exactly what this test moved.
        const a = yield* T.openAccount("CHF")
        const b = yield* T.openAccount("CHF")
        const yen = yield* T.openAccount("JPY")
        yield* T.deposit(a, 700)
        yield* T.deposit(b, 50)
        yield* T.deposit(yen, 9000)
        yield* T.alice.post(`/accounts/${a}/withdrawals`, { amount: 200 })
        yield* T.transfer(a, b, 100)
        const wait = yield* T.lastPosition(b)
        const path = `/reports/daily-totals?from=${day(-1)}&to=${day(1)}`
        const chf = yield* T.readAfter(`${path}&currency=CHF`, wait)
        assert.strictEqual(chf.status, 200, chf.text)
        assert.deepStrictEqual({ from: chf.body.from, to: chf.body.to, currency: chf.body.currency }, {
          from: day(-1),
          to: day(1),
          currency: "CHF"
        })
        assert.isTrue(chf.body.days.every((r: Total) => r.currency === "CHF"))
        assert.deepStrictEqual(sum(chf.body.days), { deposits: 750, withdrawals: 200, transfersIn: 100, transfersOut: 100, movements: 5 })
        const all = yield* T.reader.get(path)
        const currencies = new Set(all.body.days.map((r: Total) => r.currency))
        assert.isTrue(currencies.has("CHF") && currencies.has("JPY"), all.text)
        assert.deepInclude(sum(all.body.days.filter((r: Total) => r.currency === "JPY")), { deposits: 9000, movements: 1 })
        // Oldest day first, then by currency.
        const keys: Array<string> = all.body.days.map((r: Total) => `${r.day}/${r.currency}`)
        assert.deepStrictEqual(keys, [...keys].sort((a, b) => a.localeCompare(b)))
        // A range before any movement is empty, not an error.
        assert.deepStrictEqual((yield* T.reader.get("/reports/daily-totals?from=2001-01-01&to=2001-12-31")).body.days, [])
      }))

    it.effect("the range is validated: each refusal a typed 400 naming the parameter", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["from=2026-02-30&to=2026-03-01", "from"],
          ["from=2026-03-01&to=2026-13-01", "to"],
          ["from=2026-3-1&to=2026-03-02", "from"],
          ["from=2026-03-02&to=2026-03-01", "from"],
          ["from=2025-01-01&to=2026-01-02", "to"],
          ["from=2026-03-01&to=2026-03-02&currency=eur", "currency"],
          ["from=2026-03-01&to=2026-03-02&currency=EURO", "currency"],
          ["to=2026-03-02", "from"],
          ["from=2026-03-01", "to"]
        ]
        for (const [query, parameter] of cases) {
          const problem = T.isProblem(yield* T.reader.get(`/reports/daily-totals?${query}`), 400)
          assert.deepStrictEqual(problem.errors[0].path.slice(0, 2), ["query", parameter], query)
        }
        // 366 days inclusive is the longest range allowed (2024 is a leap year).
        assert.strictEqual((yield* T.reader.get("/reports/daily-totals?from=2024-01-01&to=2024-12-31")).status, 200)
        assert.strictEqual((yield* T.reader.get("/reports/daily-totals?from=2026-03-01&to=2026-03-01")).status, 200)
      }))

    it.effect("scope read: no token is 401, a write-only token 403", () =>
      Effect.gen(function*() {
        const path = "/reports/daily-totals?from=2026-01-01&to=2026-01-31"
        T.isProblem(yield* T.request("GET", path), 401, "Unauthorized")
        assert.strictEqual(T.isProblem(yield* T.writer.get(path), 403, "Forbidden").requiredScope, "read")
      }))
  })
})
