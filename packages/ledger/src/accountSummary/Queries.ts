/**
 * Queries on the account summary read model. They read the stable view `account_summary.accounts`, which a
 * rebuild switches atomically to a new generation, so they never name a generation schema. Columns are
 * aliased in camelCase, so they read the same on a client with or without name transforms.
 *
 * Paging is keyset pagination on `account_id`: the cursor is an opaque string (base64url of the last id of
 * the page). An id or cursor that cannot be one finds nothing (`get` gives none, `list` an empty page);
 * `isValidCursor` lets an API answer 400 instead.
 */
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export interface AccountSummaryRow {
  readonly accountId: string
  readonly holderName: string
  readonly holderEmail: string
  readonly currency: string
  /** Integer minor units. */
  readonly balance: number
  readonly overdraftLimit: number
  readonly status: "open" | "closed"
  readonly frozen: boolean
  /** The account stream's version this row reflects. */
  readonly version: number
  /** ISO 8601. */
  readonly openedAt: string
  readonly updatedAt: string
  /** True once the holder was forgotten (name and email are placeholders). */
  readonly erased: boolean
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Cursor for the next page, when there is one. */
  readonly next: string | undefined
}

/** The view readers use (schema = projection name, view = table name). */
const VIEW = "account_summary.accounts"

export const MIN_LIMIT = 1
export const MAX_LIMIT = 500

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

interface Row {
  readonly accountId: string
  readonly holderName: string
  readonly holderEmail: string
  readonly currency: string
  readonly balance: bigint | number
  readonly overdraftLimit: bigint | number
  readonly status: "open" | "closed"
  readonly frozen: boolean
  readonly version: number
  readonly openedAt: Date
  readonly updatedAt: Date
  readonly erased: boolean
}

const toSummary = (row: Row): AccountSummaryRow => ({
  accountId: row.accountId,
  holderName: row.holderName,
  holderEmail: row.holderEmail,
  currency: row.currency,
  balance: Number(row.balance),
  overdraftLimit: Number(row.overdraftLimit),
  status: row.status,
  frozen: row.frozen,
  version: row.version,
  openedAt: row.openedAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
  erased: row.erased
})

const columns = (sql: SqlClient) =>
  sql`account_id::text AS "accountId", holder_name AS "holderName", holder_email AS "holderEmail", currency,
    balance, overdraft_limit AS "overdraftLimit", status, frozen, version, opened_at AS "openedAt",
    updated_at AS "updatedAt", erased`

/** The cursor that resumes a listing after `accountId`. */
export const cursorAfter = (accountId: string): string => Buffer.from(accountId, "utf8").toString("base64url")

/** The account id a cursor resumes after (none when the cursor is not one of ours). */
export const decodeCursor = (cursor: string): Option.Option<string> => {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return Option.none()
  const id = Buffer.from(cursor, "base64url").toString("utf8")
  return UUID.test(id) && cursorAfter(id) === cursor ? Option.some(id) : Option.none()
}

export const isValidCursor = (cursor: string): boolean => Option.isSome(decodeCursor(cursor))

/** Clamps a requested page size to 1..500 (non-numbers give the smallest page). */
export const clampLimit = (limit: number): number => Number.isFinite(limit) ? Math.min(MAX_LIMIT, Math.max(MIN_LIMIT, Math.floor(limit))) : MIN_LIMIT

export const get = (accountId: string): Effect.Effect<Option.Option<AccountSummaryRow>, SqlError, SqlClient> =>
  Effect.gen(function*() {
    if (!UUID.test(accountId)) return Option.none()
    const sql = yield* SqlClient
    const rows = yield* sql<Row>`SELECT ${columns(sql)} FROM ${sql(VIEW)} WHERE account_id = ${accountId}::uuid`
    return Option.map(Option.fromNullishOr(rows[0]), toSummary)
  })

export const list = (page: { readonly limit: number; readonly after?: string }): Effect.Effect<Page<AccountSummaryRow>, SqlError, SqlClient> =>
  Effect.gen(function*() {
    const limit = clampLimit(page.limit)
    let after: string | undefined
    if (page.after !== undefined) {
      const decoded = decodeCursor(page.after)
      if (Option.isNone(decoded)) return { items: [], next: undefined }
      after = decoded.value
    }
    const sql = yield* SqlClient
    const rows = after === undefined
      ? yield* sql<Row>`SELECT ${columns(sql)} FROM ${sql(VIEW)} ORDER BY account_id LIMIT ${limit + 1}`
      : yield* sql<Row>`SELECT ${columns(sql)} FROM ${sql(VIEW)} WHERE account_id > ${after}::uuid ORDER BY account_id LIMIT ${limit + 1}`
    const items = rows.slice(0, limit).map(toSummary)
    const last = items[items.length - 1]
    return { items, next: rows.length > limit && last !== undefined ? cursorAfter(last.accountId) : undefined }
  })
