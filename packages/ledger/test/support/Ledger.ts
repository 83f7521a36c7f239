/**
 * Test support for the ledger read models: the ledger runtime (protected event store + personal data +
 * the three read models) on a fresh test database with a generated master key, command builders that go
 * through the real command handlers, and read-your-writes waits on every read model.
 */
import { Account } from "@verity/domain"
import { type Checkpoint, MasterKeys } from "@verity/eventstore"
import { TestDatabase, type TestTarget } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { ConfigProvider, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import * as ReadModels from "../../src/ReadModels.ts"
import * as LedgerStreams from "../../src/Streams.ts"

export const READ_MODELS = ReadModels.all.map((p) => p.name)

/** Quick polling so tests that depend on other processes do not wait for the defaults. */
export const fast = { pollInterval: "50 millis", discoveryInterval: "200 millis" } as const

/** Configuration holding a fresh master key (what `VERITY_MASTER_KEYS` would hold). */
export const masterKeyConfig = (keys: string = MasterKeys.generate("k1")) =>
  ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: keys }))

/** The ledger runtime with the read models, on a brand-new database of `target`. */
export const ledgerLayer = (
  target: TestTarget,
  options: { readonly owner?: string; readonly runProjections?: boolean; readonly batchSize?: number } = {}
) =>
  LedgerRuntime.layerWithoutDatabase({
    projections: ReadModels.all,
    runProjections: options.runProjections ?? true,
    projectionOptions: {
      ...fast,
      owner: options.owner ?? "test",
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize })
    }
  }).pipe(
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 12 })),
    Layer.provide(masterKeyConfig())
  )

const decodeCommand = Schema.decodeUnknownSync(Account.AccountCommand)

/** Account commands from plain values (validated and branded by the command schema). */
export const command = {
  open: (accountId: string, holderName: string, holderEmail: string, currency: string, at: number) =>
    decodeCommand({ _tag: "OpenAccount", accountId, holderName, holderEmail, currency, at }),
  deposit: (accountId: string, amount: number, currency: string, at: number) => decodeCommand({ _tag: "Deposit", accountId, amount, currency, at }),
  withdraw: (accountId: string, amount: number, currency: string, at: number) => decodeCommand({ _tag: "Withdraw", accountId, amount, currency, at }),
  setLimit: (accountId: string, limit: number, at: number) => decodeCommand({ _tag: "SetOverdraftLimit", accountId, limit, at }),
  updateHolder: (accountId: string, holderName: string, holderEmail: string, at: number) =>
    decodeCommand({ _tag: "UpdateHolderDetails", accountId, holderName, holderEmail, at }),
  freeze: (accountId: string, reason: string, at: number) => decodeCommand({ _tag: "FreezeAccount", accountId, reason, at }),
  unfreeze: (accountId: string, at: number) => decodeCommand({ _tag: "UnfreezeAccount", accountId, at }),
  close: (accountId: string, at: number) => decodeCommand({ _tag: "CloseAccount", accountId, at }),
  debit: (accountId: string, transferId: string, toAccountId: string, amount: number, currency: string, at: number) =>
    decodeCommand({ _tag: "DebitForTransfer", accountId, transferId, toAccountId, amount, currency, at }),
  credit: (accountId: string, transferId: string, fromAccountId: string, amount: number, currency: string, at: number) =>
    decodeCommand({ _tag: "CreditForTransfer", accountId, transferId, fromAccountId, amount, currency, at }),
  refund: (accountId: string, transferId: string, at: number) => decodeCommand({ _tag: "RefundTransfer", accountId, transferId, at }),
  settle: (accountId: string, transferId: string, at: number) => decodeCommand({ _tag: "SettleTransfer", accountId, transferId, at })
}

/**
 * Runs a command through the account command handler and returns the checkpoint of its append. A
 * rejection, or a command that decides nothing, fails the test: scenarios here only send commands that
 * must write.
 */
export const exec = (cmd: Account.AccountCommand) =>
  LedgerStreams.Accounts.handle(cmd.accountId, cmd).pipe(
    Effect.flatMap((handled) =>
      Option.match(handled.appended, {
        onNone: () => Effect.die(new Error(`${cmd._tag} on ${cmd.accountId} decided nothing`)),
        onSome: (appended) => Effect.succeed(appended.checkpoint)
      })
    ),
    Effect.orDie
  )

/** Runs the commands one after the other; the checkpoint of the last append. */
export const execAll = (commands: ReadonlyArray<Account.AccountCommand>) =>
  Effect.gen(function*() {
    let last: Checkpoint.Checkpoint | undefined
    for (const cmd of commands) last = yield* exec(cmd)
    if (last === undefined) return yield* Effect.die(new Error("no commands"))
    return last
  })

/** Waits until every read model has applied everything up to `checkpoint`. */
export const waitAll = (checkpoint: Checkpoint.Checkpoint, timeout: `${number} seconds` = "30 seconds") =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    yield* Effect.forEach(READ_MODELS, (name) => projections.waitFor(name, checkpoint, timeout), { discard: true })
  }).pipe(Effect.orDie)

/** A fresh lowercase uuid (account and transfer ids). */
export const uuid = (): string => crypto.randomUUID()

/** Every row of every table in the read models' generation schemas (and their views), as JSON text. */
export const readModelRows = Effect.gen(function*() {
  const sql = yield* SqlClient
  const tables = yield* sql<{ readonly schema: string; readonly name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
      AND (${sql.or(READ_MODELS.map((name) => sql`table_schema = ${name} OR table_schema LIKE ${`${name}\\_%`}`))})
    ORDER BY 1, 2`
  const rows: Array<{ readonly table: string; readonly json: string }> = []
  for (const table of tables) {
    const found = yield* sql<{ readonly json: string }>`SELECT to_jsonb(t)::text AS json FROM ${sql(`${table.schema}.${table.name}`)} t`
    for (const row of found) rows.push({ table: `${table.schema}.${table.name}`, json: row.json })
  }
  return { tables: tables.map((t) => `${t.schema}.${t.name}`), rows }
}).pipe(Effect.orDie)
