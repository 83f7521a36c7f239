/**
 * Exactly-once checks on the ledger read models after crashes and fail-overs: every read model applied
 * exactly the events its filters select (no batch counted twice, nothing parked), verify agrees with a
 * recomputation from the events, one transaction row per money event, and the balances of the account
 * summary, the transactions' sums and the domain's own fold all agree.
 */
import { assert } from "@effect/vitest"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { readTypes } from "../../src/AccountSteps.ts"
import * as ReadModels from "../../src/ReadModels.ts"
import * as LedgerStreams from "../../src/Streams.ts"
import { steps as transactionSteps } from "../../src/transactions/Handler.ts"

/** The events that move money: those the transactions read model writes a row for (all but the opening). */
const MONEY = readTypes(transactionSteps).filter((type) => type !== "AccountOpened")

/** How many stored events each read model's filters select. */
export const expectedEvents = Effect.gen(function*() {
  const sql = yield* SqlClient
  const counts: Record<string, number> = {}
  for (const projection of ReadModels.all) {
    const rows = yield* sql<{ readonly n: bigint }>`
      SELECT count(*) AS n FROM verity.events
      WHERE category = ANY(${[...(projection.categories ?? [])]}::text[]) AND type = ANY(${[...projection.eventTypes]}::text[])`
    counts[projection.name] = Number(rows[0]!.n)
  }
  return counts
}).pipe(Effect.orDie)

/** Events applied so far by the active generation of `name` (0 before it exists). */
export const applied = (name: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ readonly n: bigint }>`
      SELECT events_applied AS n FROM verity_projections.generations WHERE name = ${name} AND state = 'active'`
    return Number(rows[0]?.n ?? 0)
  }).pipe(
    Effect.catchTag("SqlError", () => Effect.succeed(0)) // the runtime's tables may not exist yet
  )

export const assertExactlyOnce = (accountIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const projections = yield* Projections.Projections
    const expected = yield* expectedEvents
    for (const projection of ReadModels.all) {
      const status = yield* projections.statusOf(projection.name)
      assert.strictEqual(status.parkedStreams, 0, `${projection.name}: no parked streams`)
      assert.strictEqual(Number(status.active!.eventsApplied), expected[projection.name], `${projection.name}: each event applied once`)
      const report = yield* projections.verify(projection.name)
      assert.isTrue(report.consistent, `${projection.name}: ${JSON.stringify(report.tables)}`)
      assert.strictEqual(report.events, expected[projection.name])
    }
    const [money] = yield* sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM verity.events WHERE type = ANY(${MONEY}::text[])`
    const [rows] = yield* sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM account_transactions.transactions`
    assert.strictEqual(rows!.n, money!.n, "one transaction row per money event")
    const [movements] = yield* sql<{ readonly n: bigint }>`SELECT coalesce(sum(movements), 0)::int8 AS n FROM daily_totals.totals`
    assert.strictEqual(movements!.n, money!.n, "daily totals count every money event once")
    const mismatches = yield* sql<{ readonly account_id: string }>`
      SELECT s.account_id::text FROM account_summary.accounts s
      LEFT JOIN (SELECT account_id, sum(amount) AS total FROM account_transactions.transactions GROUP BY account_id) t
        USING (account_id)
      LEFT JOIN account_transactions.balances b USING (account_id)
      WHERE s.balance <> coalesce(t.total, 0) OR s.balance <> coalesce(b.balance, 0)`
    assert.deepStrictEqual(mismatches, [], "summary balance = sum of transactions = running balance")
    const summaries = yield* sql<{ readonly id: string; readonly balance: bigint }>`
      SELECT account_id::text AS id, balance FROM account_summary.accounts`
    const byId = new Map(summaries.map((row) => [row.id, Number(row.balance)]))
    assert.strictEqual(byId.size, accountIds.length)
    for (const id of accountIds) {
      const { state } = yield* LedgerStreams.Accounts.load(id).pipe(Effect.orDie)
      assert.strictEqual(byId.get(id), (state as { readonly balance?: number }).balance, `balance of ${id} = the aggregate's`)
    }
  }).pipe(Effect.orDie)
