/**
 * GDPR through the read models: after `PersonalData.forget(accountId)` the account summary shows the
 * domain placeholders and `erased = true`, balances stay, other holders are untouched, and no query result
 * and no row of any read-model table (any generation) holds the forgotten holder's name or email, neither
 * live nor after a rebuild that replays the (now placeholder-bearing) history.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Account } from "@verity/domain"
import { PersonalData } from "@verity/eventstore"
import { forEachDatabase } from "@verity/eventstore/testing"
import * as Projections from "../../src/Projections.ts"
import { AccountSummary, AccountTransactions, DailyTotals } from "../../src/ledger/ReadModels.ts"
import { command as c, execAll, ledgerLayer, readModelRows, uuid, waitAll } from "../support/Ledger.ts"

const at = (minutes: number) => Date.UTC(2026, 0, 20, 10) + minutes * 60_000

/** Every string of every row of every table in the database (all schemas but the catalogs). */
const wholeDatabase = Effect.gen(function*() {
  const sql = yield* SqlClient
  const tables = yield* sql<{ readonly schema: string; readonly name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`
  const texts: Array<string> = []
  for (const table of tables) {
    const rows = yield* sql<{ readonly json: string }>`SELECT to_jsonb(t)::text AS json FROM ${sql(`${table.schema}.${table.name}`)} t`
    for (const row of rows) texts.push(row.json)
  }
  return texts
}).pipe(Effect.orDie)

forEachDatabase((target) => {
  layer(ledgerLayer(target), { excludeTestServices: true, timeout: "120 seconds" })("GDPR erasure in the read models", (it) => {
    it.effect("forget redacts the holder everywhere, keeps the money, spares the others, survives a rebuild", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const personalData = yield* PersonalData.PersonalData
        const tag = Math.random().toString(36).slice(2, 10)
        const gone = { id: uuid(), names: [`Zelda Forgettable ${tag}`, `Zelda Renamed ${tag}`], emails: [`zelda.${tag}@example.com`, `z.${tag}@example.org`] }
        const kept = { id: uuid(), name: `Yann Keeper ${tag}`, email: `yann.${tag}@example.com` }
        const t = uuid()
        yield* waitAll(yield* execAll([
          c.open(gone.id, gone.names[0]!, gone.emails[0]!, "EUR", at(0)),
          c.open(kept.id, kept.name, kept.email, "EUR", at(1)),
          c.deposit(gone.id, 5_000, "EUR", at(2)),
          c.updateHolder(gone.id, gone.names[1]!, gone.emails[1]!, at(3)),
          c.debit(gone.id, t, kept.id, 1_200, "EUR", at(4)),
          c.credit(kept.id, t, gone.id, 1_200, "EUR", at(5)),
          c.settle(gone.id, t, at(6)),
          c.deposit(kept.id, 300, "EUR", at(7))
        ]))
        const plaintext = [...gone.names, ...gone.emails]
        const before = yield* readModelRows
        assert.isTrue(before.rows.some((row) => row.json.includes(gone.names[1]!)), "the holder's name is in the read model before")

        const forgotten = yield* personalData.forget(gone.id, { reason: "GDPR art. 17 request #4711", requestedBy: "dpo@bank" })
        assert.isTrue(forgotten.forgotten)
        yield* waitAll(Option.getOrThrow(forgotten.erasure).checkpoint)

        const expectRedacted = Effect.gen(function*() {
          const summary = Option.getOrThrow(yield* AccountSummary.get(gone.id))
          assert.deepInclude(summary, {
            holderName: Account.ErasedHolderName,
            holderEmail: Account.ErasedHolderEmail,
            erased: true,
            balance: 5_000 - 1_200,
            status: "open",
            version: 5
          })
          assert.deepInclude(Option.getOrThrow(yield* AccountSummary.get(kept.id)), {
            holderName: kept.name,
            holderEmail: kept.email,
            erased: false,
            balance: 1_500
          })
          const answers = JSON.stringify([
            (yield* AccountSummary.list({ limit: 500 })).items,
            (yield* AccountTransactions.list(gone.id, { limit: 500 })).items,
            (yield* AccountTransactions.list(kept.id, { limit: 500 })).items,
            yield* DailyTotals.list()
          ])
          for (const text of plaintext) assert.notInclude(answers, text, "no query answer holds the forgotten holder's data")
          assert.include(answers, kept.name, "the other holder is still there")
          const { rows, tables } = yield* readModelRows
          assert.includeMembers(tables, ["account_summary.accounts", "account_transactions.transactions", "daily_totals.totals"])
          for (const row of rows) {
            for (const text of plaintext) assert.notInclude(row.json, text, `row of ${row.table}`)
          }
          assert.isTrue(rows.some((row) => row.json.includes(kept.email)), "the scan reads the rows")
          return tables
        })
        yield* expectRedacted

        // A rebuild replays history: the events now read as placeholders, and the row stays redacted.
        const generation = (yield* projections.statusOf("account_summary")).active!.generation
        yield* projections.rebuildNow("account_summary")
        const tables = yield* expectRedacted
        assert.include(tables, `account_summary_g${generation + 1}.accounts`)
        assert.include(tables, `account_summary_g${generation}.accounts`, "the retired generation was scanned too")
        const report = yield* projections.verify("account_summary")
        assert.isTrue(report.consistent, JSON.stringify(report.tables))

        // Nowhere in the database (events hold ciphertext; the key is destroyed).
        for (const text of yield* wholeDatabase) {
          for (const secret of plaintext) assert.notInclude(text, secret)
        }
      }))
  })
})
