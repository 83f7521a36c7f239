/**
 * The checkout process manager on PostgreSQL: every checked-out cart gets exactly one order, with the
 * cart's lines and total, caused by the checkout event; and a batch applied again (redelivery), or rolled
 * back half-way (a crash) and run again, still leaves exactly one order per cart.
 */
import { assert, describe, it } from "@effect/vitest"
import { EventStore, type RecordedEvent } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import type { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as CheckoutProcess from "../src/CheckoutProcess.ts"
import { CART_CATEGORY, Carts, orderCodec, Orders } from "../src/Streams.ts"
import { type CartId, ItemId, Quantity, UnitPrice } from "../src/Values.ts"
import { exec, newCartId, now, shopLayer, waitFor } from "./support/Shop.ts"

/** Opens a cart, adds `n` lines and checks it out. */
const checkedOutCart = (n: number) =>
  Effect.gen(function*() {
    const cartId = newCartId()
    yield* exec({ _tag: "OpenCart", cartId, at: yield* now })
    for (let i = 1; i <= n; i++) {
      yield* exec({
        _tag: "AddItem",
        cartId,
        itemId: ItemId.make(`sku-${i}`),
        quantity: Quantity.make(i),
        unitPrice: UnitPrice.make(100 * i),
        at: yield* now
      })
    }
    const checkpoint = yield* exec({ _tag: "CheckOut", cartId, at: yield* now })
    return { cartId, checkpoint }
  })

/** The events of the order placed for `cartId` (none when no order was placed). */
const orderEvents = (cartId: CartId) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.readStream(Orders.streamOf(CheckoutProcess.orderIdFor(cartId))).pipe(
      Effect.catchTag("StreamNotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([]))
    )
  }).pipe(Effect.orDie)

/** Every committed `CartCheckedOut`, as the process manager's runner would read it. */
const checkouts = Effect.gen(function*() {
  const store = yield* EventStore
  const page = yield* store.readAll({ categories: [CART_CATEGORY], types: ["CartCheckedOut"], limit: 1_000 })
  return page.events
}).pipe(Effect.orDie)

/** Runs the process manager's `apply` on `events` in a transaction of its own, as its runner does. */
const applyBatch = (events: ReadonlyArray<RecordedEvent>, crashAfter = false) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const sql = yield* SqlClient
    const schema = `${CheckoutProcess.NAME}_g1`
    const context: Projection.TablesContext = { schema, table: (name) => sql(`${schema}.${name}`), rebuilding: false }
    const batch = CheckoutProcess.projection.apply(events, context)
    return yield* store.transaction(crashAfter ? Effect.andThen(batch, Effect.fail("crash" as const)) : batch)
  })

forEachDatabase((target) => {
  describe("checkout process, live", () => {
    it.layer(shopLayer(target))("runner", (it) => {
      it.effect("every checked-out cart gets exactly one order with its lines and total", () =>
        Effect.gen(function*() {
          // Each phase is bounded on its own, so a stuck one is named instead of running into the test's timeout.
          const checkedOut = yield* Effect.forEach([1, 2, 3, 4, 5], checkedOutCart, { concurrency: 3 }).pipe(
            Effect.timeoutOrElse({ duration: "40 seconds", orElse: () => Effect.die(new Error("checking out five carts took over 40 s")) })
          )
          for (const { checkpoint } of checkedOut) {
            yield* waitFor(CheckoutProcess.NAME, checkpoint).pipe(
              Effect.timeoutOrElse({
                duration: "35 seconds",
                orElse: () => Effect.die(new Error(`the checkout process did not reach ${checkpoint}`))
              })
            )
          }
          const carts = checkedOut.map((c) => c.cartId)
          const checkoutEvents = yield* checkouts
          for (const cartId of carts) {
            const events = yield* orderEvents(cartId)
            assert.strictEqual(events.length, 1, `one order event for cart ${cartId}`)
            const [placed] = Result.getOrThrow(orderCodec.decodeResult(events[0]!))
            const cart = yield* Carts.load(cartId).pipe(Effect.orDie)
            assert.strictEqual(placed?._tag, "OrderPlaced")
            if (placed?._tag !== "OrderPlaced" || cart.state.status !== "CheckedOut") return assert.fail("placed from a checked-out cart")
            assert.strictEqual(placed.cartId, cartId)
            assert.deepStrictEqual(placed.lines, Object.values(cart.state.lines).sort((a, b) => a.itemId.localeCompare(b.itemId)))
            assert.strictEqual(placed.total, placed.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0))
            const cause = checkoutEvents.find((e) => e.streamId === Carts.streamOf(cartId))
            assert.strictEqual(events[0]!.metadata.causationId, cause?.eventId, "caused by the checkout event")
            assert.strictEqual(events[0]!.metadata.actor, CheckoutProcess.ACTOR)
          }
        }))
    })
  })

  describe("checkout process, batches run again", () => {
    // Projections registered but not running: the test plays the runner, batch by batch.
    it.layer(shopLayer(target, { run: false }))("by hand", (it) => {
      it.effect("a batch applied twice, or rolled back and applied again, places exactly one order per cart", () =>
        Effect.gen(function*() {
          const first = (yield* Effect.forEach([1, 2, 3], checkedOutCart)).map((c) => c.cartId)
          yield* applyBatch(yield* checkouts)
          yield* applyBatch(yield* checkouts) // redelivered: every order already placed
          for (const cartId of first) assert.strictEqual((yield* orderEvents(cartId)).length, 1)

          const second = (yield* Effect.forEach([2, 4], checkedOutCart)).map((c) => c.cartId)
          const crashed = yield* Effect.flip(applyBatch(yield* checkouts, true))
          assert.strictEqual(crashed, "crash")
          for (const cartId of second) assert.strictEqual((yield* orderEvents(cartId)).length, 0, "rolled back with the batch")
          yield* applyBatch(yield* checkouts)
          yield* applyBatch(yield* checkouts)
          for (const cartId of [...first, ...second]) assert.strictEqual((yield* orderEvents(cartId)).length, 1)

          const orders = yield* Effect.gen(function*() {
            const store = yield* EventStore
            return (yield* store.readAll({ categories: ["order"], limit: 1_000 })).events
          }).pipe(Effect.orDie)
          assert.strictEqual(orders.length, first.length + second.length, "nothing else was written")
        }))
    })
  })
})
