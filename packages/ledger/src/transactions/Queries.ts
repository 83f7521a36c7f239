/**
 * Queries on the account transactions read model, through the stable view
 * `account_transactions.transactions` (never a generation schema). Newest first, paged by version.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Kind } from "./Handler.ts"

export type { Kind }

export interface TransactionRow {
  readonly accountId: string
  /** The account stream version of the event that moved the money. */
  readonly version: number
  /** Global position of that event. */
  readonly position: string
  readonly kind: Kind
  /** Signed change of the balance, in minor units (negative for withdrawals and transfer debits). */
  readonly amount: number
  readonly currency: string
  readonly transferId: string | undefined
  readonly counterpartyAccountId: string | undefined
  /** The balance right after this movement, in minor units. */
  readonly balanceAfter: number
  /** ISO 8601 (the event's business time). */
  readonly at: string
}

export interface TransactionPage {
  readonly items: ReadonlyArray<TransactionRow>
  /** Pass as `beforeVersion` for the next (older) page, when there is one. */
  readonly nextBeforeVersion: number | undefined
}

const VIEW = "account_transactions.transactions"
export const MAX_LIMIT = 500

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

interface Row {
  readonly accountId: string
  readonly version: number
  readonly position: bigint
  readonly kind: Kind
  readonly amount: bigint
  readonly currency: string
  readonly transferId: string | null
  readonly counterpartyAccountId: string | null
  readonly balanceAfter: bigint
  readonly at: Date
}

const toTransaction = (row: Row): TransactionRow => ({
  accountId: row.accountId,
  version: row.version,
  position: String(row.position),
  kind: row.kind,
  amount: Number(row.amount),
  currency: row.currency,
  transferId: row.transferId ?? undefined,
  counterpartyAccountId: row.counterpartyAccountId ?? undefined,
  balanceAfter: Number(row.balanceAfter),
  at: row.at.toISOString()
})

/** The account's money movements, newest first; `beforeVersion` pages back through older ones. */
export const list = (
  accountId: string,
  options: { readonly limit: number; readonly beforeVersion?: number }
): Effect.Effect<TransactionPage, SqlError, SqlClient> =>
  Effect.gen(function*() {
    if (!UUID.test(accountId)) return { items: [], nextBeforeVersion: undefined }
    const limit = Number.isFinite(options.limit) ? Math.min(MAX_LIMIT, Math.max(1, Math.floor(options.limit))) : 1
    const before = options.beforeVersion === undefined || !Number.isFinite(options.beforeVersion)
      ? 2_147_483_647
      : Math.max(0, Math.min(2_147_483_647, Math.floor(options.beforeVersion)))
    const sql = yield* SqlClient
    const rows = yield* sql<Row>`
      SELECT account_id::text AS "accountId", version, position, kind, amount, currency,
        transfer_id::text AS "transferId", counterparty_account_id::text AS "counterpartyAccountId",
        balance_after AS "balanceAfter", at
      FROM ${sql(VIEW)}
      WHERE account_id = ${accountId}::uuid AND version < ${before}
      ORDER BY version DESC
      LIMIT ${limit + 1}`
    const items = rows.slice(0, limit).map(toTransaction)
    const last = items[items.length - 1]
    return { items, nextBeforeVersion: rows.length > limit && last !== undefined ? last.version : undefined }
  })
