/**
 * Queries on the transfers read model, through the stable view `transfers.transfers` (never a generation
 * schema). Listed in the order they were requested (global position of `TransferRequested`), optionally
 * of one status, keyset-paged: the cursor is the last position of a page, so a page never repeats or skips
 * a transfer because others were requested or changed status meanwhile.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Status } from "./Handler.ts"

export type { Status }

export const statuses: ReadonlyArray<Status> = ["Requested", "Debited", "Credited", "Completed", "Refunding", "Failed"]

export interface TransferRow {
  readonly transferId: string
  readonly fromAccountId: string
  readonly toAccountId: string
  /** Minor units. */
  readonly amount: number
  readonly currency: string
  readonly status: Status
  /** Failed transfers: the step that was rejected ("Debit": nothing moved; "Credit": the debit was refunded). */
  readonly failedStep: "Debit" | "Credit" | undefined
  /** Failed or refunding transfers: the rejection's tag, e.g. `InsufficientFunds`. */
  readonly reason: string | undefined
  /** The transfer stream version the row reflects. */
  readonly version: number
  /** Global position of the request: the order of the listing and its cursor. */
  readonly position: string
  /** ISO 8601 (business time). */
  readonly requestedAt: string
  readonly updatedAt: string
}

export interface TransferPage {
  readonly items: ReadonlyArray<TransferRow>
  /** Pass as `after` for the next page, when there is one. */
  readonly next: string | undefined
}

const VIEW = "transfers.transfers"
export const MAX_LIMIT = 500
const MAX_POSITION = 9_223_372_036_854_775_807n

interface Row {
  readonly transferId: string
  readonly fromAccountId: string
  readonly toAccountId: string
  readonly amount: bigint
  readonly currency: string
  readonly status: Status
  readonly failedStep: "Debit" | "Credit" | null
  readonly reason: string | null
  readonly version: number
  readonly position: bigint
  readonly requestedAt: Date
  readonly updatedAt: Date
}

const toTransfer = (row: Row): TransferRow => ({
  transferId: row.transferId,
  fromAccountId: row.fromAccountId,
  toAccountId: row.toAccountId,
  amount: Number(row.amount),
  currency: row.currency,
  status: row.status,
  failedStep: row.failedStep ?? undefined,
  reason: row.reason ?? undefined,
  version: row.version,
  position: String(row.position),
  requestedAt: row.requestedAt.toISOString(),
  updatedAt: row.updatedAt.toISOString()
})

/** Transfers in request order after the position `after` (a string of digits), of `status` when given. */
export const list = (
  options: { readonly limit: number; readonly after?: string; readonly status?: Status }
): Effect.Effect<TransferPage, SqlError, SqlClient> =>
  Effect.gen(function*() {
    if (options.after !== undefined && (!/^\d{1,19}$/.test(options.after) || BigInt(options.after) > MAX_POSITION)) {
      return { items: [], next: undefined }
    }
    const limit = Number.isFinite(options.limit) ? Math.min(MAX_LIMIT, Math.max(1, Math.floor(options.limit))) : 1
    const sql = yield* SqlClient
    const conditions = [sql`requested_position > ${options.after ?? "0"}::int8`]
    if (options.status !== undefined) conditions.push(sql`status = ${options.status}`)
    const rows = yield* sql<Row>`
      SELECT transfer_id::text AS "transferId", from_account_id::text AS "fromAccountId",
        to_account_id::text AS "toAccountId", amount, currency, status, failed_step AS "failedStep", reason, version,
        requested_position AS position, requested_at AS "requestedAt", updated_at AS "updatedAt"
      FROM ${sql(VIEW)}
      WHERE ${sql.and(conditions)}
      ORDER BY requested_position
      LIMIT ${limit + 1}`
    const items = rows.slice(0, limit).map(toTransfer)
    const last = items[items.length - 1]
    return { items, next: rows.length > limit && last !== undefined ? last.position : undefined }
  })
