/**
 * Queries on the daily totals read model, through the stable view `daily_totals.totals` (never a
 * generation schema). Days are UTC calendar days written `YYYY-MM-DD`; `from` and `to` are inclusive.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export interface DailyTotalsRow {
  /** `YYYY-MM-DD` (UTC). */
  readonly day: string
  readonly currency: string
  /** Sums of the day's movements in minor units (all positive). */
  readonly deposits: number
  readonly withdrawals: number
  readonly transfersIn: number
  readonly transfersOut: number
  readonly refunds: number
  /** How many money movements the day had in this currency. */
  readonly movements: number
}

export interface DailyTotalsFilter {
  /** First day, inclusive (`YYYY-MM-DD`). */
  readonly from?: string
  /** Last day, inclusive (`YYYY-MM-DD`). */
  readonly to?: string
  readonly currency?: string
  /** At most this many rows (default and maximum 10,000), oldest day first. */
  readonly limit?: number
}

const VIEW = "daily_totals.totals"
export const MAX_ROWS = 10_000

const DAY = /^\d{4}-\d{2}-\d{2}$/

/** True when `day` is a real calendar day written `YYYY-MM-DD`. */
export const isDay = (day: string): boolean => {
  if (!DAY.test(day)) return false
  const parsed = new Date(`${day}T00:00:00.000Z`)
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === day
}

interface Row {
  readonly day: string
  readonly currency: string
  readonly deposits: bigint
  readonly withdrawals: bigint
  readonly transfersIn: bigint
  readonly transfersOut: bigint
  readonly refunds: bigint
  readonly movements: bigint
}

/**
 * The totals per day and currency, oldest day first (then by currency). A `from`/`to` that is not a day
 * finds nothing (an API can check `isDay` first and answer 400).
 */
export const list = (filter: DailyTotalsFilter = {}): Effect.Effect<ReadonlyArray<DailyTotalsRow>, SqlError, SqlClient> =>
  Effect.gen(function*() {
    if ((filter.from !== undefined && !isDay(filter.from)) || (filter.to !== undefined && !isDay(filter.to))) return []
    const limit = filter.limit === undefined || !Number.isFinite(filter.limit)
      ? MAX_ROWS
      : Math.min(MAX_ROWS, Math.max(1, Math.floor(filter.limit)))
    const sql = yield* SqlClient
    const conditions = [sql`true`]
    if (filter.from !== undefined) conditions.push(sql`day >= ${filter.from}::date`)
    if (filter.to !== undefined) conditions.push(sql`day <= ${filter.to}::date`)
    if (filter.currency !== undefined) conditions.push(sql`currency = ${filter.currency}`)
    const rows = yield* sql<Row>`
      SELECT to_char(day, 'YYYY-MM-DD') AS day, currency, deposits, withdrawals, transfers_in AS "transfersIn",
        transfers_out AS "transfersOut", refunds, movements
      FROM ${sql(VIEW)}
      WHERE ${sql.and(conditions)}
      ORDER BY day, currency
      LIMIT ${limit}`
    return rows.map((row): DailyTotalsRow => ({
      day: row.day,
      currency: row.currency,
      deposits: Number(row.deposits),
      withdrawals: Number(row.withdrawals),
      transfersIn: Number(row.transfersIn),
      transfersOut: Number(row.transfersOut),
      refunds: Number(row.refunds),
      movements: Number(row.movements)
    }))
  })
