/**
 * The daily totals' batch handler: decode the batch, look up (in ONE query) the currency of the accounts
 * whose transfer events carry none and that were not opened in this batch, add everything up per
 * (UTC day, currency) in memory, then ONE upsert adds the batch's sums to the stored ones
 * (`INSERT ... ON CONFLICT DO UPDATE SET x = totals.x + excluded.x`), in the same statement as the insert of
 * the accounts opened in the batch.
 */
import { PgTypes } from "@effect/sql-pg"
import type { RecordedEvent } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type AccountSteps, runStep, subscribedTypes } from "../AccountSteps.ts"
import { accountCodec } from "../Streams.ts"

type Column = "deposits" | "withdrawals" | "transfersIn" | "transfersOut" | "refunds"

interface Movement {
  readonly accountId: string
  /** Days since 1970-01-01 (UTC). */
  readonly day: number
  readonly currency: string | undefined
  readonly column: Column
  readonly amount: number
}

interface Totals {
  readonly day: number
  readonly currency: string
  deposits: number
  withdrawals: number
  transfersIn: number
  transfersOut: number
  refunds: number
  movements: number
}

const DAY = 86_400_000

/** What the fold of one batch collects; `day` is the current event's. */
interface FoldContext {
  readonly movements: Array<Movement>
  readonly opened: Map<string, string>
  readonly day: number
}

/** A movement into `column`; transfer events carry no currency (it is the account's, looked up later). */
const movement =
  (column: Column) => (event: { readonly accountId: string; readonly amount: number; readonly currency?: string }, ctx: FoldContext) => {
    ctx.movements.push({ accountId: event.accountId, day: ctx.day, currency: event.currency, column, amount: event.amount })
  }

/** The money events (and the opening, which fixes the account's currency); nothing else counts. */
export const steps: AccountSteps<FoldContext> = {
  AccountOpened: (event, ctx) => {
    ctx.opened.set(event.accountId, event.currency)
  },
  MoneyDeposited: movement("deposits"),
  MoneyWithdrawn: movement("withdrawals"),
  MoneyDebitedForTransfer: movement("transfersOut"),
  MoneyCreditedForTransfer: movement("transfersIn"),
  MoneyRefundedForTransfer: movement("refunds"),
  OverdraftLimitSet: null,
  HolderDetailsUpdated: null,
  AccountFrozen: null,
  AccountUnfrozen: null,
  AccountClosed: null,
  TransferDebitSettled: null
}

/** The types read, and every stored type that may read as one. */
export const storedTypes = subscribedTypes(steps)

const fold = (events: ReadonlyArray<RecordedEvent>) => {
  const movements: Array<Movement> = []
  const opened = new Map<string, string>()
  for (const recorded of events) {
    const decoded = accountCodec.decodeResult(recorded)
    if (Result.isFailure(decoded)) {
      return Result.fail(new Projection.ProjectionFailure({ message: decoded.failure.message, cause: decoded.failure }))
    }
    for (const event of decoded.success) runStep(steps, event, { movements, opened, day: Math.floor(event.at / DAY) })
  }
  return Result.succeed({ movements, opened })
}

const array = (values: ReadonlyArray<unknown>, oid: number) => Result.getOrThrow(PgTypes.array([...values], oid))
const uuids = (values: ReadonlyArray<string>) => array(values, PgTypes.OID.uuid)
const texts = (values: ReadonlyArray<string>) => array(values, PgTypes.OID.text)
const int8s = (values: ReadonlyArray<number>) => array(values.map((v) => BigInt(v)), PgTypes.OID.int8)
const int4s = (values: ReadonlyArray<number>) => array(values, PgTypes.OID.int4)

export const apply = (events: ReadonlyArray<RecordedEvent>, ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const folded = fold(events)
    if (Result.isFailure(folded)) return yield* folded.failure
    const { movements, opened } = folded.success
    const currencyOf = new Map(opened)
    const unknown = [...new Set(movements.filter((m) => m.currency === undefined && !currencyOf.has(m.accountId)).map((m) => m.accountId))]
    if (unknown.length > 0) {
      const rows = yield* sql<{ readonly account_id: string; readonly currency: string }>`
        SELECT account_id::text AS account_id, currency FROM ${ctx.table("account_currencies")}
        WHERE account_id = ANY(${uuids(unknown)}::uuid[])`
      for (const row of rows) currencyOf.set(row.account_id, row.currency)
    }

    const totals = new Map<string, Totals>()
    for (const movement of movements) {
      const currency = movement.currency ?? currencyOf.get(movement.accountId)
      if (currency === undefined) {
        return yield* new Projection.ProjectionFailure({ message: `money moved on account ${movement.accountId}, which was never opened` })
      }
      const key = `${movement.day}|${currency}`
      let entry = totals.get(key)
      if (entry === undefined) {
        totals.set(
          key,
          entry = { day: movement.day, currency, deposits: 0, withdrawals: 0, transfersIn: 0, transfersOut: 0, refunds: 0, movements: 0 }
        )
      }
      entry[movement.column] += movement.amount
      entry.movements++
    }

    if (totals.size === 0 && opened.size === 0) return
    const rows = [...totals.values()]
    for (const row of rows) {
      for (const value of [row.deposits, row.withdrawals, row.transfersIn, row.transfersOut, row.refunds]) {
        if (!Number.isSafeInteger(value)) {
          return yield* new Projection.ProjectionFailure({ message: `daily total ${value} for ${row.currency} is not a safe integer` })
        }
      }
    }
    // One statement: the accounts opened in this batch, and the batch's sums added to the days' rows.
    const ids = [...opened.keys()]
    yield* sql`
      WITH currencies AS (
        INSERT INTO ${ctx.table("account_currencies")} (account_id, currency)
        SELECT * FROM unnest(${uuids(ids)}::uuid[], ${texts(ids.map((id) => opened.get(id)!))}::text[])
      )
      INSERT INTO ${ctx.table("totals")} AS t (day, currency, deposits, withdrawals, transfers_in, transfers_out, refunds, movements)
      SELECT date '1970-01-01' + u.day, u.currency, u.deposits, u.withdrawals, u.transfers_in, u.transfers_out, u.refunds, u.movements
      FROM unnest(
        ${int4s(rows.map((r) => r.day))}::int4[],
        ${texts(rows.map((r) => r.currency))}::text[],
        ${int8s(rows.map((r) => r.deposits))}::int8[],
        ${int8s(rows.map((r) => r.withdrawals))}::int8[],
        ${int8s(rows.map((r) => r.transfersIn))}::int8[],
        ${int8s(rows.map((r) => r.transfersOut))}::int8[],
        ${int8s(rows.map((r) => r.refunds))}::int8[],
        ${int8s(rows.map((r) => r.movements))}::int8[]
      ) AS u(day, currency, deposits, withdrawals, transfers_in, transfers_out, refunds, movements)
      ON CONFLICT (day, currency) DO UPDATE SET
        deposits = t.deposits + excluded.deposits,
        withdrawals = t.withdrawals + excluded.withdrawals,
        transfers_in = t.transfers_in + excluded.transfers_in,
        transfers_out = t.transfers_out + excluded.transfers_out,
        refunds = t.refunds + excluded.refunds,
        movements = t.movements + excluded.movements`
  })
