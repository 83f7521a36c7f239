/**
 * GDPR through the read models: after `PersonalData.forget(accountId)` the account summary shows the
 * domain placeholders and `erased = true`, balances stay, other holders are untouched, and no query result
 * and no row of any read-model table (any generation) holds the forgotten holder's name or email, neither
 * live nor after a rebuild that replays the (now placeholder-bearing) history.
 *
 * Erasure across generations: a forget that lands while a rebuild is building (after the rebuild read the
 * holder's events, before it wrote the row) and a forget after the switch (the previous generation is
 * retired, no runner follows it) both leave no plaintext anywhere: a full dump of the database (pg_dump when
 * its version matches the server, else every row of every table) finds none. With no grace, the retired
 * generation is dropped after the switch.
 */
import { assert, layer } from "@effect/vitest"
import { Account } from "@verity/domain"
import { PersonalData } from "@verity/eventstore"
import { eventually, forEachDatabase, fullDump, TestDatabase } from "@verity/postgres/testing"
import { Projection, Projections } from "@verity/projections"
import { Deferred, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import * as ReadModels from "../../src/ReadModels.ts"
import { AccountSummary, AccountTransactions, DailyTotals } from "../../src/ReadModels.ts"
import { command as c, execAll, fast, ledgerLayer, masterKeyConfig, readModelRows, uuid, waitAll } from "../support/Ledger.ts"

const at = (minutes: number) => Date.UTC(2026, 0, 20, 10) + minutes * 60_000

/**
 * Holds the account summary's handler at a chosen batch: the first batch written into generation `schema`
 * that carries an event of `stream` waits (its events already read and decrypted) until `release`.
 */
const gate: {
  schema: string | undefined
  stream: string | undefined
  read: Deferred.Deferred<void>
  release: Deferred.Deferred<void>
} = { schema: undefined, stream: undefined, read: Deferred.makeUnsafe<void>(), release: Deferred.makeUnsafe<void>() }

const gatedSummary = Projection.make({
  ...ReadModels.accountSummary,
  apply: (events, ctx) =>
    Effect.gen(function*() {
      if (gate.schema === ctx.schema && events.some((e) => e.streamId === gate.stream)) {
        gate.schema = undefined
        yield* Deferred.succeed(gate.read, undefined)
        yield* Deferred.await(gate.release)
      }
      yield* ReadModels.accountSummary.apply(events, ctx)
    })
})

/** The ledger runtime with the gated account summary and a given grace for retired generations. */
const gatedLayer = (target: Parameters<typeof ledgerLayer>[0], retiredGrace: `${number} ${"seconds" | "hours"}`) =>
  LedgerRuntime.layerWithoutDatabase({
    projections: [gatedSummary, ReadModels.accountTransactions, ReadModels.dailyTotals],
    projectionOptions: { ...fast, owner: "gdpr-generations", retiredGrace }
  }).pipe(
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 14 })),
    Layer.provide(masterKeyConfig())
  )

const holder = (label: string) => {
  const tag = Math.random().toString(36).slice(2, 10)
  return { id: uuid(), name: `${label} Plaintext ${tag}`, email: `${label.toLowerCase()}.${tag}@example.com` }
}

forEachDatabase((target) => {
  layer(gatedLayer(target, "1 hours"), { excludeTestServices: true, timeout: "120 seconds" })("GDPR erasure across generations", (it) => {
    it.effect("a forget during a rebuild and one after its switch leave no plaintext in a full dump", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const personalData = yield* PersonalData.PersonalData
        const sql = yield* SqlClient
        const during = holder("During")
        const after = holder("After")
        const kept = holder("Kept")
        yield* waitAll(
          yield* execAll([
            c.open(during.id, during.name, during.email, "EUR", at(0)),
            c.open(after.id, after.name, after.email, "EUR", at(1)),
            c.open(kept.id, kept.name, kept.email, "EUR", at(2)),
            c.deposit(during.id, 700, "EUR", at(3)),
            c.deposit(after.id, 900, "EUR", at(4))
          ])
        )
        const old = (yield* projections.statusOf("account_summary")).active!.generation
        const next = old + 1

        // The rebuild reads the holder's events (decrypted), then waits before writing them.
        gate.read = yield* Deferred.make<void>()
        gate.release = yield* Deferred.make<void>()
        gate.stream = `account-${during.id}`
        gate.schema = `account_summary_g${next}`
        assert.strictEqual((yield* projections.rebuild("account_summary")).generation, next)
        yield* Deferred.await(gate.read).pipe(Effect.timeout("30 seconds"))
        const first = yield* personalData.forget(during.id, { reason: "GDPR art. 17 request #1", requestedBy: "dpo" })
        yield* Deferred.succeed(gate.release, undefined)
        yield* eventually(
          "the rebuild switched",
          Effect.map(projections.statusOf("account_summary"), (s) => s.active?.generation === next)
        )
        yield* waitAll(Option.getOrThrow(first.erasure).checkpoint)

        // After the switch the previous generation is retired: no runner follows it any more.
        const second = yield* personalData.forget(after.id, { reason: "GDPR art. 17 request #2", requestedBy: "dpo" })
        yield* waitAll(Option.getOrThrow(second.erasure).checkpoint)
        const secrets = [during.name, during.email, after.name, after.email]
        yield* eventually(
          "no read-model table holds the forgotten holders' data",
          Effect.map(readModelRows, ({ rows }) => rows.every((row) => secrets.every((secret) => !row.json.includes(secret))))
        )
        const retired = yield* sql<{ readonly holder_name: string; readonly erased: boolean }>`
          SELECT holder_name, erased FROM ${sql(`account_summary_g${old}.accounts`)} WHERE account_id = ${after.id}`
        assert.deepStrictEqual(
          retired.map((r) => ({ ...r })),
          [{ holder_name: Account.ErasedHolderName, erased: true }],
          "the retired generation was redacted, not dropped"
        )

        const dump = yield* fullDump
        for (const secret of secrets) assert.notInclude(dump.text, secret, `the ${dump.how} holds a forgotten holder's data`)
        assert.include(dump.text, kept.name, `the ${dump.how} reads the rows`)
        assert.include(dump.text, `account_summary_g${old}`, `the ${dump.how} covers the retired generation`)
      }))
  })

  layer(gatedLayer(target, "0 seconds"), { excludeTestServices: true, timeout: "120 seconds" })("retired generations without grace", (it) => {
    it.effect("the previous generation is dropped after the switch; a forget then leaves no plaintext", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const personalData = yield* PersonalData.PersonalData
        const sql = yield* SqlClient
        const gone = holder("Dropped")
        yield* waitAll(yield* execAll([c.open(gone.id, gone.name, gone.email, "EUR", at(0))]))
        const old = (yield* projections.statusOf("account_summary")).active!.generation
        yield* projections.rebuildNow("account_summary")
        const forgotten = yield* personalData.forget(gone.id, { reason: "GDPR art. 17 request #3", requestedBy: "dpo" })
        yield* waitAll(Option.getOrThrow(forgotten.erasure).checkpoint)
        yield* eventually(
          "the retired generation is dropped",
          Effect.map(
            sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = ${`account_summary_g${old}`}`,
            (rows) => Number(rows[0]!.n) === 0
          )
        )
        const dump = yield* fullDump
        for (const secret of [gone.name, gone.email]) assert.notInclude(dump.text, secret, `the ${dump.how} holds the forgotten holder's data`)
      }))
  })

  layer(ledgerLayer(target), { excludeTestServices: true, timeout: "120 seconds" })("GDPR erasure in the read models", (it) => {
    it.effect("forget redacts the holder everywhere, keeps the money, spares the others, survives a rebuild", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const personalData = yield* PersonalData.PersonalData
        const tag = Math.random().toString(36).slice(2, 10)
        const gone = {
          id: uuid(),
          names: [`Zelda Forgettable ${tag}`, `Zelda Renamed ${tag}`],
          emails: [`zelda.${tag}@example.com`, `z.${tag}@example.org`]
        }
        const kept = { id: uuid(), name: `Yann Keeper ${tag}`, email: `yann.${tag}@example.com` }
        const t = uuid()
        yield* waitAll(
          yield* execAll([
            c.open(gone.id, gone.names[0]!, gone.emails[0]!, "EUR", at(0)),
            c.open(kept.id, kept.name, kept.email, "EUR", at(1)),
            c.deposit(gone.id, 5_000, "EUR", at(2)),
            c.updateHolder(gone.id, gone.names[1]!, gone.emails[1]!, at(3)),
            c.debit(gone.id, t, kept.id, 1_200, "EUR", at(4)),
            c.credit(kept.id, t, gone.id, 1_200, "EUR", at(5)),
            c.settle(gone.id, t, at(6)),
            c.deposit(kept.id, 300, "EUR", at(7))
          ])
        )
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
        const { text } = yield* fullDump
        for (const secret of plaintext) assert.notInclude(text, secret)
      }))
  })
})
