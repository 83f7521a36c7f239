/**
 * The account summary read model, end to end: commands through the real account command handler, the
 * ledger runtime (protected store, live runners), read-your-writes on the append's checkpoint, then the
 * queries (`get`, keyset-paged `list`). Also: a rebuild reproduces the same rows, and verify finds a
 * deliberately corrupted row and names it by key.
 */
import { assert, layer } from "@effect/vitest"
import { EventStore } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { AccountSummary } from "../../src/ReadModels.ts"
import * as LedgerStreams from "../../src/Streams.ts"
import { command as c, exec, execAll, ledgerLayer, READ_MODELS, uuid, waitAll } from "../support/Ledger.ts"

const day = Date.UTC(2026, 2, 14, 9, 30)
const at = (minutes: number) => day + minutes * 60_000

/** Every page of `list`, following the cursors. */
const listAll = (limit: number) =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<AccountSummary.AccountSummaryRow>> = []
    let after: string | undefined
    for (let i = 0; i < 100; i++) {
      const page = yield* AccountSummary.list(after === undefined ? { limit } : { limit, after })
      pages.push(page.items)
      if (page.next === undefined) return pages
      after = page.next
    }
    return yield* Effect.die(new Error("list never ended"))
  })

forEachDatabase((target) => {
  layer(ledgerLayer(target), { excludeTestServices: true, timeout: "120 seconds" })("account_summary", (it) => {
    it.effect("projects every account event through the command handlers; get and list read it", () =>
      Effect.gen(function*() {
        const [a, b, cc, d] = [uuid(), uuid(), uuid(), uuid()]
        const t1 = uuid()
        const t2 = uuid()
        const last = yield* execAll([
          c.open(a, "Ada Lovelace", "ada@example.com", "EUR", at(0)),
          c.open(b, "Bob Builder", "bob@example.org", "USD", at(1)),
          c.open(cc, "Carla Closed", "carla@example.net", "EUR", at(2)),
          c.open(d, "Dan Dest", "dan@example.com", "EUR", at(3)),
          c.deposit(a, 10_000, "EUR", at(4)),
          c.withdraw(a, 2_500, "EUR", at(5)),
          c.setLimit(a, 5_000, at(6)),
          c.updateHolder(a, "Ada King", "ada.king@example.com", at(7)),
          c.freeze(a, "suspicious activity", at(8)),
          c.unfreeze(a, at(9)),
          // A completed transfer a -> d.
          c.debit(a, t1, d, 1_000, "EUR", at(10)),
          c.credit(d, t1, a, 1_000, "EUR", at(11)),
          c.settle(a, t1, at(12)),
          // A failed one a -> b (b is in USD: the credit would be rejected), refunded.
          c.debit(a, t2, b, 500, "EUR", at(13)),
          c.refund(a, t2, at(14)),
          c.deposit(b, 700, "USD", at(15)),
          c.freeze(b, "court order", at(16)),
          c.deposit(cc, 100, "EUR", at(17)),
          c.withdraw(cc, 100, "EUR", at(18)),
          c.close(cc, at(19))
        ])
        yield* waitAll(last)

        const aVersion = (yield* LedgerStreams.Accounts.load(a).pipe(Effect.orDie)).version
        assert.strictEqual(aVersion, 11)
        const rowA = Option.getOrThrow(yield* AccountSummary.get(a))
        assert.deepStrictEqual(rowA, {
          accountId: a,
          holderName: "Ada King",
          holderEmail: "ada.king@example.com",
          currency: "EUR",
          balance: 10_000 - 2_500 - 1_000 - 500 + 500,
          overdraftLimit: 5_000,
          status: "open",
          frozen: false,
          version: aVersion,
          openedAt: new Date(at(0)).toISOString(),
          updatedAt: new Date(at(14)).toISOString(),
          erased: false
        })
        assert.deepInclude(Option.getOrThrow(yield* AccountSummary.get(b)), {
          currency: "USD",
          balance: 700,
          frozen: true,
          status: "open",
          version: 3
        })
        assert.deepInclude(Option.getOrThrow(yield* AccountSummary.get(cc)), { balance: 0, status: "closed", version: 4 })
        assert.deepInclude(Option.getOrThrow(yield* AccountSummary.get(d)), {
          balance: 1_000,
          version: 2,
          updatedAt: new Date(at(11)).toISOString()
        })
        assert.isTrue(Option.isNone(yield* AccountSummary.get(uuid())), "unknown account")
        assert.isTrue(Option.isNone(yield* AccountSummary.get("not-a-uuid")), "not an id")

        // Keyset pages of 3 visit every account once, in id order, and end.
        const pages = yield* listAll(3)
        const ids = pages.flat().map((row) => row.accountId)
        assert.deepStrictEqual(ids, [a, b, cc, d].sort())
        assert.isTrue(pages.slice(0, -1).every((page) => page.length === 3))
        assert.deepStrictEqual((yield* AccountSummary.list({ limit: 10, after: "bogus!" })).items, [])
        assert.strictEqual((yield* AccountSummary.list({ limit: 0 })).items.length, 1, "limit is clamped to 1..500")
      }))

    it.effect("a rebuild reproduces the same rows and switches readers to the new generation", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const a = uuid()
        yield* waitAll(yield* execAll([c.open(a, "Eve Rebuild", "eve@example.com", "SEK", at(30)), c.deposit(a, 42, "SEK", at(31))]))
        const before = (yield* listAll(500)).flat()
        const generation = (yield* projections.statusOf("account_summary")).active!.generation
        const report = yield* projections.rebuildNow("account_summary")
        assert.strictEqual(report.generation, generation + 1)
        assert.isAtLeast(report.events, 2)
        assert.deepStrictEqual((yield* listAll(500)).flat(), before)
        const after = yield* exec(c.withdraw(a, 2, "SEK", at(32)))
        yield* waitAll(after)
        assert.strictEqual(Option.getOrThrow(yield* AccountSummary.get(a)).balance, 40)
        assert.isTrue((yield* projections.verify("account_summary")).consistent)
      }))

    it.effect("history stored in retired v1 shapes is upcast: the type filter includes the retired types", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const a = uuid()
        // As the v1 API wrote it: EUR only, decimal euros, `owner`/`email`, a combined opening event.
        yield* store.append(`account-${a}`, "no_stream", [
          {
            eventId: uuid(),
            type: "AccountOpenedWithDeposit",
            schemaVersion: 1,
            data: { accountId: a, owner: "Old Timer", email: "old@example.com", initialDeposit: 100.5, at: at(50) }
          },
          { eventId: uuid(), type: "MoneyDeposited", schemaVersion: 1, data: { accountId: a, amount: 0.29, at: at(51) } },
          { eventId: uuid(), type: "FundsWithdrawn", schemaVersion: 1, data: { accountId: a, amount: 19.99, at: at(52) } }
        ])
        // And a current event on top, through the command handler.
        yield* waitAll(yield* exec(c.deposit(a, 1, "EUR", at(53))))
        assert.deepInclude(Option.getOrThrow(yield* AccountSummary.get(a)), {
          holderName: "Old Timer",
          holderEmail: "old@example.com",
          currency: "EUR",
          balance: 10_050 + 29 - 1_999 + 1,
          version: 4,
          openedAt: new Date(at(50)).toISOString(),
          updatedAt: new Date(at(53)).toISOString()
        })
      }))

    it.effect("an event that cannot apply parks only its stream; the others flow", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projections = yield* Projections.Projections
        const [orphan, broken, fine] = [uuid(), uuid(), uuid()]
        // Money on an account that was never opened, and a payload the current schema rejects.
        yield* store.append(`account-${orphan}`, "no_stream", [
          { eventId: uuid(), type: "MoneyDeposited", schemaVersion: 2, data: { accountId: orphan, amount: 5, currency: "EUR", at: at(60) } }
        ])
        yield* exec(c.open(broken, "Bea Broken", "bea@example.com", "EUR", at(61)))
        yield* store.append(`account-${broken}`, "any", [
          { eventId: uuid(), type: "MoneyDeposited", schemaVersion: 2, data: { accountId: broken, amount: -3, currency: "EUR", at: at(62) } }
        ])
        const last = yield* execAll([c.open(fine, "Fred Fine", "fred@example.com", "EUR", at(63)), c.deposit(fine, 8, "EUR", at(64))])
        yield* projections.waitFor("account_summary", last, "30 seconds")
        assert.strictEqual(Option.getOrThrow(yield* AccountSummary.get(fine)).balance, 8)
        assert.strictEqual(Option.getOrThrow(yield* AccountSummary.get(broken)).balance, 0, "opened, the bad deposit not applied")
        assert.isTrue(Option.isNone(yield* AccountSummary.get(orphan)))
        const parked = yield* projections.parked("account_summary")
        const byStream = new Map(parked.map((p) => [p.stream, p]))
        assert.include(byStream.get(`account-${orphan}`)?.error, "never opened")
        assert.include(byStream.get(`account-${broken}`)?.error, "cannot decode MoneyDeposited")
        // Operators skip them (dead letters) in every read model; each is consistent with what it applied.
        for (const name of READ_MODELS) {
          yield* projections.waitFor(name, last, "30 seconds")
          for (const parkedStream of yield* projections.parked(name)) yield* projections.skip(name, parkedStream.stream, "test")
          assert.deepStrictEqual(yield* projections.parked(name), [])
        }
        assert.isTrue((yield* projections.verify("account_summary")).consistent)
      }))

    it.effect("verify finds a corrupted account_summary row and reports it by key", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const sql = yield* SqlClient
        const a = uuid()
        const other = uuid()
        yield* waitAll(
          yield* execAll([
            c.open(a, "Vera Verify", "vera@example.com", "EUR", at(40)),
            c.open(other, "Otto Other", "otto@example.com", "EUR", at(41)),
            c.deposit(a, 1_234, "EUR", at(42))
          ])
        )
        const clean = yield* projections.verify("account_summary")
        assert.isTrue(clean.consistent, JSON.stringify(clean.tables))
        const generation = (yield* projections.statusOf("account_summary")).active!.generation
        yield* sql`UPDATE ${sql(`account_summary_g${generation}.accounts`)} SET balance = balance + 1 WHERE account_id = ${a}::uuid`
        const report = yield* projections.verify("account_summary")
        assert.isFalse(report.consistent)
        const table = report.tables.find((t) => t.table === "accounts")!
        assert.strictEqual(table.differences, 1)
        assert.deepStrictEqual(table.rows[0]!.key, { account_id: a })
        assert.deepInclude(table.rows[0]!.live as object, { balance: 1_235 })
        assert.deepInclude(table.rows[0]!.expected as object, { balance: 1_234 })
        // The readers saw the corruption too: verify is what tells.
        assert.strictEqual(Option.getOrThrow(yield* AccountSummary.get(a)).balance, 1_235)
        yield* projections.rebuildNow("account_summary")
        assert.strictEqual(Option.getOrThrow(yield* AccountSummary.get(a)).balance, 1_234)
        assert.isTrue((yield* projections.verify("account_summary")).consistent)
      }))
  })
})
