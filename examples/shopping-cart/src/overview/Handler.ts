/**
 * The cart overview's batch handler. A batch is folded in memory into one change per cart (units and
 * total added or taken away, opened, checked out) and one per item (units added, units checked out), then
 * written with three set-based statements whatever the batch size: insert the carts opened and move the
 * others' units and totals, delete the carts checked out, upsert the items' counts. Rows arrive as one JSON parameter (`jsonb_to_recordset`).
 */
import type { RecordedEvent } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { CartEvent } from "../Cart.ts"
import { cartCodec } from "../Streams.ts"

interface CartChange {
  readonly cartId: string
  /** Opened in this batch: the change is the cart's whole row. */
  opened: boolean
  items: number
  total: number
  /** Epoch milliseconds of the first and last event of this batch on the cart. */
  readonly firstAt: number
  lastAt: number
  checkedOut: boolean
}

interface ItemChange {
  readonly itemId: string
  added: number
  checkedOut: number
}

/** Folds decoded cart events, in order, into the changes of one batch. */
export const fold = (events: ReadonlyArray<CartEvent>) => {
  const carts = new Map<string, CartChange>()
  const items = new Map<string, ItemChange>()
  const cart = (cartId: string, at: number) => {
    let change = carts.get(cartId)
    if (change === undefined) carts.set(cartId, change = { cartId, opened: false, items: 0, total: 0, firstAt: at, lastAt: at, checkedOut: false })
    change.lastAt = at
    return change
  }
  const item = (itemId: string) => {
    let change = items.get(itemId)
    if (change === undefined) items.set(itemId, change = { itemId, added: 0, checkedOut: 0 })
    return change
  }
  for (const event of events) {
    const change = cart(event.cartId, event.at)
    switch (event._tag) {
      case "CartOpened":
        change.opened = true
        break
      case "ItemAdded":
        change.items += event.quantity
        change.total += event.quantity * event.unitPrice
        item(event.itemId).added += event.quantity
        break
      case "ItemRemoved":
        change.items -= event.quantity
        change.total -= event.quantity * event.unitPrice
        break
      case "QuantityChanged":
        change.items += event.quantity - event.previousQuantity
        change.total += (event.quantity - event.previousQuantity) * event.unitPrice
        break
      case "CartCheckedOut":
        change.checkedOut = true
        for (const line of event.lines) item(line.itemId).checkedOut += line.quantity
        break
    }
  }
  return { carts: [...carts.values()], items: [...items.values()] }
}

const decodeAll = (recorded: ReadonlyArray<RecordedEvent>) => {
  const events: Array<CartEvent> = []
  for (const event of recorded) {
    const decoded = cartCodec.decodeResult(event)
    if (Result.isFailure(decoded)) {
      return Result.fail(new Projection.ProjectionFailure({ message: decoded.failure.message, cause: decoded.failure }))
    }
    events.push(...decoded.success)
  }
  return Result.succeed(events)
}

export const apply = (recorded: ReadonlyArray<RecordedEvent>, ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const { carts, items } = fold(yield* Effect.fromResult(decodeAll(recorded)))
    if (carts.length > 0) {
      // Carts opened in this batch are inserted whole; the others have their units and total moved.
      yield* sql`
        WITH changes AS (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(carts)}::jsonb)
            AS r("cartId" uuid, opened boolean, items integer, total bigint, "firstAt" bigint, "lastAt" bigint)
        ), moved AS (
          UPDATE ${ctx.table("open_carts")} AS c
          SET items = c.items + r.items, total = c.total + r.total, updated_at = to_timestamp(r."lastAt" / 1000.0)
          FROM changes r WHERE c.cart_id = r."cartId" AND NOT r.opened
        )
        INSERT INTO ${ctx.table("open_carts")} (cart_id, items, total, opened_at, updated_at)
        SELECT "cartId", items, total, to_timestamp("firstAt" / 1000.0), to_timestamp("lastAt" / 1000.0)
        FROM changes WHERE opened`
      const checkedOut = carts.filter((c) => c.checkedOut).map((c) => c.cartId)
      if (checkedOut.length > 0) {
        yield* sql`
          DELETE FROM ${ctx.table("open_carts")}
          WHERE cart_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(checkedOut)}::jsonb)::uuid)`
      }
    }
    if (items.length > 0) {
      yield* sql`
        INSERT INTO ${ctx.table("popular_items")} AS i (item_id, added, checked_out)
        SELECT r."itemId", r.added, r."checkedOut"
        FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS r("itemId" text, added bigint, "checkedOut" bigint)
        ON CONFLICT (item_id) DO UPDATE SET
          added = i.added + excluded.added,
          checked_out = i.checked_out + excluded.checked_out`
    }
  })
