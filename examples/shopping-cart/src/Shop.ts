/**
 * The shop's use cases, as the command line runs them: each sends one command through its aggregate's
 * command handler (ids and time chosen here, at the edge), and the reads wait until the projections have
 * caught up with everything committed so far (read-your-writes, also across processes).
 */
import { type Checkpoint, EventStore } from "@verity/eventstore"
import { Projections } from "@verity/projections"
import { Clock, Effect, Option } from "effect"
import type { CartCommand } from "./Cart.ts"
import * as Cart from "./Cart.ts"
import * as CheckoutProcess from "./CheckoutProcess.ts"
import * as CartOverview from "./overview/Projection.ts"
import * as Queries from "./overview/Queries.ts"
import { Carts, Orders } from "./Streams.ts"
import { CartId, type ItemId, type Quantity, Timestamp, type UnitPrice } from "./Values.ts"

const now = Effect.map(Clock.currentTimeMillis, (millis) => Timestamp.make(millis))

/** Sends a cart command (with the current time); what it decided and appended. */
const handle = (cartId: CartId, command: (at: Timestamp) => CartCommand) =>
  Effect.gen(function*() {
    return yield* Carts.handle(cartId, command(yield* now))
  })

/** Sends a cart command; the cart's state after it. */
const send = (cartId: CartId, command: (at: Timestamp) => CartCommand) => Effect.map(handle(cartId, command), (handled) => handled.state)

export const openCart = Effect.gen(function*() {
  const cartId = CartId.make(crypto.randomUUID())
  yield* send(cartId, (at) => ({ _tag: "OpenCart", cartId, at }))
  return cartId
})

export const addItem = (cartId: CartId, itemId: ItemId, quantity: Quantity, unitPrice: UnitPrice) =>
  send(cartId, (at) => ({ _tag: "AddItem", cartId, itemId, quantity, unitPrice, at }))

export const removeItem = (cartId: CartId, itemId: ItemId) => send(cartId, (at) => ({ _tag: "RemoveItem", cartId, itemId, at }))

export const changeQuantity = (cartId: CartId, itemId: ItemId, quantity: Quantity) =>
  send(cartId, (at) => ({ _tag: "ChangeQuantity", cartId, itemId, quantity, at }))

/**
 * Waits until `projection` has applied everything up to `checkpoint`: by default the store's horizon, i.e.
 * everything readers can see now (an event whose transaction is still open is not among them yet).
 */
const caughtUp = (projection: string, checkpoint?: Checkpoint.Checkpoint) =>
  Effect.gen(function*() {
    const target = checkpoint ?? (yield* (yield* EventStore).horizon).checkpoint
    yield* (yield* Projections.Projections).waitFor(projection, target, "30 seconds")
  })

/** The cart and, once the checkout process has caught up with `checkpoint`, its order. */
export const show = (cartId: CartId, checkpoint?: Checkpoint.Checkpoint) =>
  Effect.gen(function*() {
    yield* caughtUp(CheckoutProcess.NAME, checkpoint)
    const cart = yield* Carts.load(cartId)
    const order = yield* Orders.load(CheckoutProcess.orderIdFor(cartId))
    return {
      cart: cart.state,
      lines: Cart.linesOf(cart.state),
      order: order.version === 0 ? Option.none() : Option.some(order.state)
    }
  })

/** Checks the cart out, then waits for the checkout process to place its order. */
export const checkOut = (cartId: CartId) =>
  Effect.gen(function*() {
    const handled = yield* handle(cartId, (at) => ({ _tag: "CheckOut", cartId, at }))
    // Wait for the process manager to have seen this very checkout (a repeated one appended nothing).
    return yield* show(cartId, Option.getOrUndefined(Option.map(handled.appended, (appended) => appended.checkpoint)))
  })

/** The read model: open carts and popular items, once it has caught up. */
export const overview = Effect.gen(function*() {
  yield* caughtUp(CartOverview.NAME)
  return { openCarts: yield* Queries.openCarts(), popularItems: yield* Queries.popularItems() }
})
