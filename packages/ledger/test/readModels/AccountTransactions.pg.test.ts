/**
 * The account transactions read model, end to end: deposits, withdrawals and both transfer outcomes through
 * the real command handlers, then `list` (newest first, paged by version) with signed amounts, currencies
 * taken from the account for transfer steps, counterparties (a refund's from its debit, also when the debit
 * was applied in an earlier batch) and the running balance. Balances agree with the account summary, and
 * verify (which recomputes everything in one batch) agrees with the live tables built batch by batch.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { AccountSummary, AccountTransactions } from "../../src/ReadModels.ts"
import { command as c, exec, execAll, ledgerLayer, uuid, waitAll } from "../support/Ledger.ts"

const at = (minutes: number) => Date.UTC(2026, 4, 2, 8) + minutes * 60_000
const iso = (minutes: number) => new Date(at(minutes)).toISOString()

forEachDatabase((target) => {
  layer(ledgerLayer(target), { excludeTestServices: true, timeout: "120 seconds" })("account_transactions", (it) => {
    it.effect("one row per money movement, newest first, with the balance after it", () =>
      Effect.gen(function*() {
        const [a, b, usd] = [uuid(), uuid(), uuid()]
        const [t1, t2] = [uuid(), uuid()]
        yield* execAll([
          c.open(a, "Ann Account", "ann@example.com", "EUR", at(0)),
          c.open(b, "Ben Benefit", "ben@example.com", "EUR", at(1)),
          c.open(usd, "Uma Dollar", "uma@example.com", "USD", at(2)),
          c.deposit(a, 1_000, "EUR", at(3)),
          c.withdraw(a, 300, "EUR", at(4)),
          c.setLimit(a, 50, at(5)), // not a money movement: no row
          c.debit(a, t1, b, 200, "EUR", at(6)),
          c.credit(b, t1, a, 200, "EUR", at(7)),
          c.settle(a, t1, at(8)), // no money moves: no row
          c.deposit(usd, 75, "USD", at(9))
        ])
        // The failed transfer's debit is applied in one batch, its refund in a later one: the refund's
        // counterparty then comes from the debit's row in the table.
        yield* waitAll(yield* exec(c.debit(a, t2, usd, 100, "EUR", at(10))))
        yield* waitAll(yield* exec(c.refund(a, t2, at(11))))

        const page = yield* AccountTransactions.list(a, { limit: 10 })
        assert.strictEqual(page.nextBeforeVersion, undefined)
        assert.deepStrictEqual(
          page.items.map(({ position: _, ...row }) => row),
          [
            {
              accountId: a,
              version: 8,
              kind: "transfer_refund",
              amount: 100,
              currency: "EUR",
              transferId: t2,
              counterpartyAccountId: usd,
              balanceAfter: 500,
              at: iso(11)
            },
            {
              accountId: a,
              version: 7,
              kind: "transfer_debit",
              amount: -100,
              currency: "EUR",
              transferId: t2,
              counterpartyAccountId: usd,
              balanceAfter: 400,
              at: iso(10)
            },
            {
              accountId: a,
              version: 5,
              kind: "transfer_debit",
              amount: -200,
              currency: "EUR",
              transferId: t1,
              counterpartyAccountId: b,
              balanceAfter: 500,
              at: iso(6)
            },
            {
              accountId: a,
              version: 3,
              kind: "withdrawal",
              amount: -300,
              currency: "EUR",
              transferId: undefined,
              counterpartyAccountId: undefined,
              balanceAfter: 700,
              at: iso(4)
            },
            {
              accountId: a,
              version: 2,
              kind: "deposit",
              amount: 1_000,
              currency: "EUR",
              transferId: undefined,
              counterpartyAccountId: undefined,
              balanceAfter: 1_000,
              at: iso(3)
            }
          ]
        )
        const positions = page.items.map((row) => BigInt(row.position))
        assert.deepStrictEqual([...positions].sort((x, y) => (x < y ? 1 : x > y ? -1 : 0)), positions, "positions grow with versions")

        // Paging back by version.
        const first = yield* AccountTransactions.list(a, { limit: 2 })
        assert.deepStrictEqual(first.items.map((row) => row.version), [8, 7])
        assert.strictEqual(first.nextBeforeVersion, 7)
        const second = yield* AccountTransactions.list(a, { limit: 2, beforeVersion: first.nextBeforeVersion! })
        assert.deepStrictEqual(second.items.map((row) => row.version), [5, 3])
        const third = yield* AccountTransactions.list(a, { limit: 2, beforeVersion: second.nextBeforeVersion! })
        assert.deepStrictEqual(third.items.map((row) => row.version), [2])
        assert.strictEqual(third.nextBeforeVersion, undefined)

        assert.deepInclude((yield* AccountTransactions.list(b, { limit: 10 })).items[0]!, {
          kind: "transfer_credit",
          amount: 200,
          currency: "EUR",
          counterpartyAccountId: a,
          balanceAfter: 200
        })
        assert.deepInclude((yield* AccountTransactions.list(usd, { limit: 10 })).items[0]!, { kind: "deposit", currency: "USD", balanceAfter: 75 })
        assert.deepStrictEqual((yield* AccountTransactions.list(uuid(), { limit: 10 })).items, [])

        // Every account's last balance_after and its sum of amounts equal the account summary's balance.
        for (const id of [a, b, usd]) {
          const rows = (yield* AccountTransactions.list(id, { limit: 500 })).items
          const summary = Option.getOrThrow(yield* AccountSummary.get(id))
          assert.strictEqual(rows[0]!.balanceAfter, summary.balance)
          assert.strictEqual(rows.reduce((sum, row) => sum + row.amount, 0), summary.balance)
        }
      }))

    it.effect("verify (one big batch) agrees with the live tables (built in many small batches)", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const sql = yield* SqlClient
        const ids = [uuid(), uuid(), uuid()]
        let last = yield* execAll(ids.map((id, i) => c.open(id, `Holder ${i}`, `h${i}@example.com`, "EUR", at(100 + i))))
        for (let i = 0; i < 30; i++) {
          const id = ids[i % ids.length]!
          last = yield* exec(i % 4 === 3 ? c.withdraw(id, 5, "EUR", at(200 + i)) : c.deposit(id, 10 + i, "EUR", at(200 + i)))
          if (i % 7 === 0) yield* waitAll(last)
        }
        const t = uuid()
        last = yield* execAll([c.debit(ids[0]!, t, ids[1]!, 1, "EUR", at(300)), c.refund(ids[0]!, t, at(301))])
        yield* waitAll(last)
        const report = yield* projections.verify("account_transactions")
        assert.isTrue(report.consistent, JSON.stringify(report.tables))
        assert.deepStrictEqual(report.tables.map((t) => t.table), ["transactions", "balances"])
        // And it can fail: a wrong running balance is found.
        const generation = (yield* projections.statusOf("account_transactions")).active!.generation
        yield* sql`UPDATE ${sql(`account_transactions_g${generation}.transactions`)} SET balance_after = balance_after + 1
          WHERE account_id = ${ids[2]!}::uuid AND version = 2`
        const broken = yield* projections.verify("account_transactions")
        assert.isFalse(broken.consistent)
        assert.deepStrictEqual(broken.tables[0]!.rows.map((r) => r.key), [{ account_id: ids[2]!, version: 2 }])
      }))
  })
})
