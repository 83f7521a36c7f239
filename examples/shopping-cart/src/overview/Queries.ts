/**
 * Queries on the cart overview. They read the stable views in schema `cart_overview` (never a generation
 * schema), with camelCase aliases, and return plain numbers (the counts stay far below 2^53).
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"

export interface OpenCartRow {
  readonly cartId: string
  /** Units in the cart. */
  readonly items: number
  /** Minor units. */
  readonly total: number
  readonly updatedAt: Date
}

export interface PopularItemRow {
  readonly itemId: string
  /** Units added to carts (removals do not count down). */
  readonly added: number
  /** Units in checked-out carts. */
  readonly checkedOut: number
}

/** The open carts, most recently changed first. */
export const openCarts = (limit = 20) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ readonly cartId: string; readonly items: number; readonly total: bigint | number; readonly updatedAt: Date }>`
      SELECT cart_id::text AS "cartId", items, total, updated_at AS "updatedAt"
      FROM cart_overview.open_carts ORDER BY updated_at DESC, cart_id LIMIT ${limit}`
    return rows.map((row): OpenCartRow => ({ ...row, total: Number(row.total) }))
  })

/** The items added most, then checked out most. */
export const popularItems = (limit = 10) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ readonly itemId: string; readonly added: bigint | number; readonly checkedOut: bigint | number }>`
      SELECT item_id AS "itemId", added, checked_out AS "checkedOut"
      FROM cart_overview.popular_items ORDER BY added DESC, checked_out DESC, item_id LIMIT ${limit}`
    return rows.map((row): PopularItemRow => ({ itemId: row.itemId, added: Number(row.added), checkedOut: Number(row.checkedOut) }))
  })
