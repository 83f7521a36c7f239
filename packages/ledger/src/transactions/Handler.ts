/**
 * The account transactions' batch handler, set-based:
 * 1. decode the batch and collect its money movements in order (and the accounts it opens);
 * 2. ONE query for the current balance and currency of every other account the batch moves money on;
 * 3. a running sum in memory gives each movement its `balance_after`;
 * 4. ONE statement inserts all the movements and upserts the accounts' new balances (two round trips per
 *    batch in all, whatever its size).
 * A movement on an account that was never opened fails the batch (the runner then parks that stream).
 */
import { PgTypes } from "@effect/sql-pg"
import type { RecordedEvent } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type AccountSteps, runStep, subscribedTypes } from "../AccountSteps.ts"
import { accountCodec } from "../Streams.ts"

export type Kind = "deposit" | "withdrawal" | "transfer_debit" | "transfer_credit" | "transfer_refund"

interface Movement {
  readonly accountId: string
  readonly version: number
  readonly position: bigint
  readonly kind: Kind
  /** Signed change of the balance. */
  readonly amount: number
  readonly currency: string | undefined
  readonly transferId: string | null
  counterparty: string | null
  readonly at: number
}

interface Folded {
  readonly movements: ReadonlyArray<Movement>
  /** Accounts opened in this batch, with their currency. */
  readonly opened: ReadonlyMap<string, string>
}

/** What the fold of one batch collects; `base` is the current event's part of its movement. */
interface FoldContext {
  readonly movements: Array<Movement>
  readonly opened: Map<string, string>
  /** Transfer debits of this batch, for the counterparty of a refund later in it. */
  readonly debits: Map<string, string>
  readonly base: Pick<Movement, "accountId" | "version" | "position" | "at">
}

/** The money events (and the opening, which fixes the account's currency); nothing else is a transaction. */
export const steps: AccountSteps<FoldContext> = {
  AccountOpened: (event, ctx) => {
    ctx.opened.set(event.accountId, event.currency)
  },
  MoneyDeposited: (event, ctx) => {
    ctx.movements.push({ ...ctx.base, kind: "deposit", amount: event.amount, currency: event.currency, transferId: null, counterparty: null })
  },
  MoneyWithdrawn: (event, ctx) => {
    ctx.movements.push({ ...ctx.base, kind: "withdrawal", amount: -event.amount, currency: event.currency, transferId: null, counterparty: null })
  },
  MoneyDebitedForTransfer: (event, ctx) => {
    ctx.debits.set(`${event.accountId}/${event.transferId}`, event.toAccountId)
    ctx.movements.push({
      ...ctx.base,
      kind: "transfer_debit",
      amount: -event.amount,
      currency: undefined,
      transferId: event.transferId,
      counterparty: event.toAccountId
    })
  },
  MoneyCreditedForTransfer: (event, ctx) => {
    ctx.movements.push({
      ...ctx.base,
      kind: "transfer_credit",
      amount: event.amount,
      currency: undefined,
      transferId: event.transferId,
      counterparty: event.fromAccountId
    })
  },
  MoneyRefundedForTransfer: (event, ctx) => {
    ctx.movements.push({
      ...ctx.base,
      kind: "transfer_refund",
      amount: event.amount,
      currency: undefined,
      transferId: event.transferId,
      counterparty: ctx.debits.get(`${event.accountId}/${event.transferId}`) ?? null
    })
  },
  OverdraftLimitSet: null,
  HolderDetailsUpdated: null,
  AccountFrozen: null,
  AccountUnfrozen: null,
  AccountClosed: null,
  TransferDebitSettled: null
}

/** The types read, and every stored type that may read as one. */
export const storedTypes = subscribedTypes(steps)

const fold = (events: ReadonlyArray<RecordedEvent>): Result.Result<Folded, Projection.ProjectionFailure> => {
  const movements: Array<Movement> = []
  const opened = new Map<string, string>()
  const debits = new Map<string, string>()
  for (const recorded of events) {
    const decoded = accountCodec.decodeResult(recorded)
    if (Result.isFailure(decoded)) {
      return Result.fail(new Projection.ProjectionFailure({ message: decoded.failure.message, cause: decoded.failure }))
    }
    for (const event of decoded.success) {
      const base = { accountId: event.accountId, version: recorded.version, position: recorded.position, at: event.at }
      runStep(steps, event, { movements, opened, debits, base })
    }
  }
  return Result.succeed({ movements, opened })
}

const array = (values: ReadonlyArray<unknown>, oid: number) => Result.getOrThrow(PgTypes.array([...values], oid))
const uuids = (values: ReadonlyArray<string | null>) => array(values, PgTypes.OID.uuid)
const texts = (values: ReadonlyArray<string>) => array(values, PgTypes.OID.text)
const int8s = (values: ReadonlyArray<number | bigint>) => array(values.map((v) => BigInt(v)), PgTypes.OID.int8)
const int4s = (values: ReadonlyArray<number>) => array(values, PgTypes.OID.int4)
const instants = (values: ReadonlyArray<number>) => array(values, PgTypes.OID.timestamptz)

interface AccountState {
  currency: string
  balance: number
}

export const apply = (events: ReadonlyArray<RecordedEvent>, ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const folded = fold(events)
    if (Result.isFailure(folded)) return yield* folded.failure
    const { movements, opened } = folded.success
    const states = new Map<string, AccountState>()
    for (const [accountId, currency] of opened) states.set(accountId, { currency, balance: 0 })
    const unknown = [...new Set(movements.map((m) => m.accountId).filter((id) => !states.has(id)))]
    if (unknown.length > 0) {
      const rows = yield* sql<{ readonly account_id: string; readonly currency: string; readonly balance: bigint }>`
        SELECT account_id::text AS account_id, currency, balance FROM ${ctx.table("balances")}
        WHERE account_id = ANY(${uuids(unknown)}::uuid[])`
      for (const row of rows) states.set(row.account_id, { currency: row.currency, balance: Number(row.balance) })
    }
    if (movements.length === 0 && states.size === 0) return

    const balanceAfter: Array<number> = new Array(movements.length)
    const currencies: Array<string> = new Array(movements.length)
    for (let i = 0; i < movements.length; i++) {
      const movement = movements[i]!
      const state = states.get(movement.accountId)
      if (state === undefined) {
        return yield* new Projection.ProjectionFailure({ message: `money moved on account ${movement.accountId}, which was never opened` })
      }
      state.balance += movement.amount
      if (!Number.isSafeInteger(state.balance)) {
        return yield* new Projection.ProjectionFailure({ message: `account ${movement.accountId}: balance ${state.balance} is not a safe integer` })
      }
      balanceAfter[i] = state.balance
      currencies[i] = movement.currency ?? state.currency
    }

    // One statement writes both tables: the movements, and the accounts' new running balances.
    const transactions = ctx.table("transactions")
    const ids = [...states.keys()]
    yield* sql`
      WITH moved AS (
        INSERT INTO ${transactions} (account_id, version, position, kind, amount, currency, transfer_id,
          counterparty_account_id, balance_after, at)
        SELECT u.account_id, u.version, u.position, u.kind, u.amount, u.currency, u.transfer_id,
          -- A refund whose debit was applied in an earlier batch finds its counterparty on the debit's row.
          CASE WHEN u.counterparty IS NULL AND u.kind = 'transfer_refund'
            THEN (SELECT d.counterparty_account_id FROM ${transactions} d
                  WHERE d.transfer_id = u.transfer_id AND d.account_id = u.account_id AND d.kind = 'transfer_debit')
            ELSE u.counterparty END,
          u.balance_after, u.at
        FROM unnest(
          ${uuids(movements.map((m) => m.accountId))}::uuid[],
          ${int4s(movements.map((m) => m.version))}::int4[],
          ${int8s(movements.map((m) => m.position))}::int8[],
          ${texts(movements.map((m) => m.kind))}::text[],
          ${int8s(movements.map((m) => m.amount))}::int8[],
          ${texts(currencies)}::text[],
          ${uuids(movements.map((m) => m.transferId))}::uuid[],
          ${uuids(movements.map((m) => m.counterparty))}::uuid[],
          ${int8s(balanceAfter)}::int8[],
          ${instants(movements.map((m) => m.at))}::timestamptz[]
        ) AS u(account_id, version, position, kind, amount, currency, transfer_id, counterparty, balance_after, at)
      )
      INSERT INTO ${ctx.table("balances")} AS b (account_id, currency, balance)
      SELECT * FROM unnest(
        ${uuids(ids)}::uuid[],
        ${texts(ids.map((id) => states.get(id)!.currency))}::text[],
        ${int8s(ids.map((id) => states.get(id)!.balance))}::int8[]
      )
      ON CONFLICT (account_id) DO UPDATE SET balance = excluded.balance`
  })
