/**
 * The cart overview read model on PostgreSQL matches the events: after a mixed workload (adds, quantity
 * changes, removals, checkouts over several carts, applied in small batches that cut across carts), its
 * open carts equal the carts' folded states and its item counts equal the sums over the events; and the
 * runtime's own verify (recompute from the events, diff) finds no difference.
 */
import { assert, describe, it } from "@effect/vitest"
import { EventStore } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import * as Cart from "../src/Cart.ts"
import * as CartOverview from "../src/overview/Projection.ts"
import * as Queries from "../src/overview/Queries.ts"
import { cartCodec, Carts } from "../src/Streams.ts"
import { type CartId, ItemId, Quantity, totalOf, UnitPrice } from "../src/Values.ts"
import { exec, newCartId, now, shopLayer, waitFor } from "./support/Shop.ts"

const catalogue = ["book-42", "pen-7", "mug-3", "lamp-1"].map((sku, i) => ({ itemId: ItemId.make(sku), unitPrice: UnitPrice.make(250 * (i + 1)) }))

/**
 * Cart `n` of the workload: lines added, one changed twice, every other one with a line removed, every
 * third one checked out. Returns the checkpoint of its last append.
 */
const shopper = (n: number) =>
  Effect.gen(function*() {
    const cartId = newCartId()
    yield* exec({ _tag: "OpenCart", cartId, at: yield* now })
    for (let i = 0; i < 2 + (n % 3); i++) {
      const item = catalogue[(n + i) % catalogue.length]!
      yield* exec({ _tag: "AddItem", cartId, ...item, quantity: Quantity.make(1 + ((n + i) % 4)), at: yield* now })
      if (i === 0) yield* exec({ _tag: "AddItem", cartId, ...item, quantity: Quantity.make(2), at: yield* now })
    }
    const first = catalogue[n % catalogue.length]!.itemId
    const second = catalogue[(n + 1) % catalogue.length]!.itemId
    yield* exec({ _tag: "ChangeQuantity", cartId, itemId: first, quantity: Quantity.make(7), at: yield* now })
    let last = yield* exec({ _tag: "ChangeQuantity", cartId, itemId: first, quantity: Quantity.make(5), at: yield* now })
    if (n % 2 === 0) last = yield* exec({ _tag: "RemoveItem", cartId, itemId: second, at: yield* now })
    if (n % 3 === 0) last = yield* exec({ _tag: "CheckOut", cartId, at: yield* now })
    return { cartId, last }
  })

/** The decoded events of one cart, as stored. */
const readCart = (cartId: CartId) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* cartCodec.decodeAll(yield* store.readStream(Carts.streamOf(cartId)))
  }).pipe(Effect.orDie)

forEachDatabase((target) => {
  describe("cart overview", () => {
    it.layer(shopLayer(target, { batchSize: 7 }))("read model", (it) => {
      it.effect("open carts and popular items match the events", () =>
        Effect.gen(function*() {
          const shoppers = yield* Effect.forEach(Array.from({ length: 9 }, (_, n) => n), shopper, { concurrency: 3 })
          for (const { last } of shoppers) yield* waitFor(CartOverview.NAME, last)
          const carts = shoppers.map((s) => s.cartId)

          const states = yield* Effect.forEach(carts, (cartId) =>
            Effect.map(Carts.load(cartId), (l) => ({ cartId, state: l.state })).pipe(Effect.orDie))
          const expectedOpen = states
            .filter(({ state }) =>
              state.status === "Open"
            )
            .map(({ cartId, state }) => {
              const lines = Cart.linesOf(state)
              return { cartId, items: lines.reduce((sum, l) => sum + l.quantity, 0), total: totalOf(lines) }
            })
            .sort((a, b) => a.cartId.localeCompare(b.cartId))
          const open = (yield* Queries.openCarts(100).pipe(Effect.orDie))
            .map(({ cartId, items, total }) => ({ cartId, items, total }))
            .sort((a, b) => a.cartId.localeCompare(b.cartId))
          assert.isAbove(expectedOpen.length, 0)
          assert.isBelow(expectedOpen.length, carts.length, "some carts were checked out")
          assert.deepStrictEqual(open, expectedOpen)

          const expectedItems = new Map<string, { added: number; checkedOut: number }>()
          const count = (itemId: string) => {
            let entry = expectedItems.get(itemId)
            if (entry === undefined) expectedItems.set(itemId, entry = { added: 0, checkedOut: 0 })
            return entry
          }
          for (const cartId of carts) {
            const events = yield* readCart(cartId)
            for (const event of events) {
              if (event._tag === "ItemAdded") count(event.itemId).added += event.quantity
              if (event._tag === "CartCheckedOut") { for (const line of event.lines) count(line.itemId).checkedOut += line.quantity }
            }
          }
          const popular = (yield* Queries.popularItems(100).pipe(Effect.orDie)).sort((a, b) => a.itemId.localeCompare(b.itemId))
          assert.deepStrictEqual(
            popular,
            [...expectedItems].map(([itemId, c]) => ({ itemId, ...c })).sort((a, b) => a.itemId.localeCompare(b.itemId))
          )

          const report = yield* Effect.flatMap(Projections.Projections, (p) => p.verify(CartOverview.NAME)).pipe(Effect.orDie)
          assert.isTrue(report.consistent, "verify recomputes the same rows from the events")
          const status = yield* Effect.flatMap(Projections.Projections, (p) => p.statusOf(CartOverview.NAME)).pipe(Effect.orDie)
          assert.strictEqual(status.parkedStreams, 0, "no event failed")
        }))
    })
  })
})
