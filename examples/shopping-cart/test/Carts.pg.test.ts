/**
 * The cart command handler over the real PostgreSQL store: concurrent adds to one cart from two processes
 * (two stores on one database) all land, none lost or doubled, and never break the quantity bound; rejections come back typed and write
 * nothing; a checked-out cart takes no more changes.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { EventStore, PgEventStore } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Redacted } from "effect"
import * as Cart from "../src/Cart.ts"
import { Carts } from "../src/Streams.ts"
import { ItemId, MaxQuantity, Quantity, UnitPrice } from "../src/Values.ts"
import { exec, newCartId, now, shopLayer } from "./support/Shop.ts"

const storeOn = (url: string) => PgEventStore.layer().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })))

const items = Array.from({ length: 8 }, (_, i) => ItemId.make(`item-${i}`))
const price = UnitPrice.make(100)

forEachDatabase((target) => {
  describe("Carts over PostgreSQL", () => {
    it.live("concurrent adds to one cart from two processes: every unit lands, exactly once", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const first = yield* Layer.build(storeOn(url))
        const second = yield* Layer.build(storeOn(url))
        const cartId = newCartId()
        yield* exec({ _tag: "OpenCart", cartId, at: yield* now }).pipe(Effect.provide(first))
        const adds = Array.from({ length: 48 }, (_, i) => ({ item: items[i % items.length]!, process: i % 2 === 0 ? first : second }))
        yield* Effect.forEach(adds, ({ item, process }) =>
          Effect.gen(function*() {
            yield* Carts.handle(cartId, { _tag: "AddItem", cartId, itemId: item, quantity: Quantity.make(1), unitPrice: price, at: yield* now })
          }).pipe(Effect.provide(process)), { concurrency: "unbounded", discard: true })
        const loaded = yield* Carts.load(cartId).pipe(Effect.provide(second))
        assert.strictEqual(loaded.version, 1 + adds.length, "one event per add")
        const lines = Cart.linesOf(loaded.state)
        assert.deepStrictEqual(lines.map((l) => [l.itemId, l.quantity]), items.map((item) => [item, adds.length / items.length]))
        const events = yield* Effect.gen(function*() {
          const store = yield* EventStore
          return yield* store.readStream(Carts.streamOf(cartId))
        }).pipe(Effect.provide(first))
        assert.strictEqual(new Set(events.map((e) => e.eventId)).size, events.length, "no event written twice")
      })), 60_000)

    it.live("racing adds never push a line past MaxQuantity: exactly MaxQuantity units are accepted", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const processes = [yield* Layer.build(storeOn(url)), yield* Layer.build(storeOn(url))]
        const cartId = newCartId()
        const itemId = ItemId.make("hot-item")
        yield* exec({ _tag: "OpenCart", cartId, at: yield* now }).pipe(Effect.provide(processes[0]!))
        const attempts = MaxQuantity + 21
        const outcomes = yield* Effect.forEach(Array.from({ length: attempts }, (_, i) => processes[i % 2]!), (process) =>
          Effect.gen(function*() {
            const add = Carts.handle(cartId, { _tag: "AddItem", cartId, itemId, quantity: Quantity.make(1), unitPrice: price, at: yield* now })
            return yield* add.pipe(Effect.as("added" as const), Effect.catchTag("QuantityLimitExceeded", () => Effect.succeed("rejected" as const)))
          }).pipe(Effect.provide(process)), { concurrency: "unbounded" })
        assert.strictEqual(outcomes.filter((o) => o === "added").length, MaxQuantity)
        assert.strictEqual(outcomes.filter((o) => o === "rejected").length, attempts - MaxQuantity)
        const loaded = yield* Carts.load(cartId).pipe(Effect.provide(processes[1]!))
        assert.strictEqual(Cart.linesOf(loaded.state)[0]?.quantity, MaxQuantity)
        assert.strictEqual(loaded.version, 1 + MaxQuantity)
      })), 60_000)

    it.layer(shopLayer(target, { run: false }))("rules on the stored cart", (it) => {
      it.effect("an empty checkout is rejected and writes nothing; a checked-out cart takes no more changes", () =>
        Effect.gen(function*() {
          const cartId = newCartId()
          yield* exec({ _tag: "OpenCart", cartId, at: yield* now })
          const empty = yield* Effect.flip(Carts.handle(cartId, { _tag: "CheckOut", cartId, at: yield* now }))
          assert.deepStrictEqual(empty, new Cart.CartIsEmpty({ cartId }))
          assert.strictEqual((yield* Carts.load(cartId)).version, 1)

          const itemId = ItemId.make("book-42")
          yield* exec({ _tag: "AddItem", cartId, itemId, quantity: Quantity.make(2), unitPrice: price, at: yield* now })
          yield* exec({ _tag: "CheckOut", cartId, at: yield* now })
          const again = yield* Carts.handle(cartId, { _tag: "CheckOut", cartId, at: yield* now })
          assert.deepStrictEqual(again.events, [], "a repeated checkout decides nothing")
          const late = yield* Effect.flip(Carts.handle(cartId, { _tag: "RemoveItem", cartId, itemId, at: yield* now }))
          assert.deepStrictEqual(late, new Cart.CartIsCheckedOut({ cartId }))
          const loaded = yield* Carts.load(cartId)
          assert.strictEqual(loaded.version, 3)
          assert.strictEqual(loaded.state.status, "CheckedOut")
        }))
    })
  })
})
