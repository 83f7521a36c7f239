/**
 * Generators of cart and order commands over small pools of carts, orders and items, so that generated
 * commands meet the same carts and lines often enough for the rules to matter: mostly small quantities and
 * each item's own price, sometimes anything the schemas allow.
 */
import { Arbitrary, Schema } from "effect"
import type * as Cart from "../../src/Cart.ts"
import type * as Order from "../../src/Order.ts"
import { CartId, ItemId, type Line, OrderId, Quantity, Reason, Timestamp, UnitPrice } from "../../src/Values.ts"

export const cartIds: ReadonlyArray<CartId> = [1, 2, 3].map((n) => CartId.make(`0c000000-0000-4000-8000-00000000000${n}`))
export const orderIds: ReadonlyArray<OrderId> = [1, 2].map((n) => OrderId.make(`0d000000-0000-4000-8000-00000000000${n}`))
export const catalogue: ReadonlyArray<{ readonly itemId: ItemId; readonly unitPrice: UnitPrice }> = [
  { itemId: ItemId.make("book-42"), unitPrice: UnitPrice.make(1999) },
  { itemId: ItemId.make("pen-7"), unitPrice: UnitPrice.make(250) },
  { itemId: ItemId.make("mug-3"), unitPrice: UnitPrice.make(899) }
]

/** One element of a non-empty pool (shrinks towards the first). */
export const pick = <A>(pool: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: pool.length - 1 }))).pipe(
    // The index is within the pool by construction.
    Arbitrary.map((index) => pool[index] as A)
  )

/** One of several generators, chosen uniformly (repeat an argument to weight it). */
export const oneOf = <A>(...arbitraries: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  pick(arbitraries).pipe(Arbitrary.flatMap((arbitrary) => arbitrary))

const smallQuantity = Arbitrary.schema(Quantity.check(Schema.isLessThanOrEqualTo(5)))
const quantity: Arbitrary.Arbitrary<Quantity> = oneOf(smallQuantity, smallQuantity, smallQuantity, Arbitrary.schema(Quantity))
const at = Arbitrary.schema(Timestamp)

const cartTargets = Arbitrary.all({
  cartId: pick(cartIds),
  item: pick(catalogue),
  quantity,
  /** Mostly the item's own price, so that repeated adds meet their line. */
  price: oneOf(Arbitrary.Constant(undefined), Arbitrary.Constant(undefined), Arbitrary.schema(UnitPrice)),
  at
})

type CartKind = Cart.CartCommand["_tag"]
const cartKinds: ReadonlyArray<CartKind> = ["OpenCart", "AddItem", "AddItem", "AddItem", "RemoveItem", "ChangeQuantity", "CheckOut"]

const cartCommandOf = (kind: CartKind) =>
  cartTargets.pipe(Arbitrary.map(({ cartId, item, quantity, price, at }): Cart.CartCommand => {
    const { itemId } = item
    switch (kind) {
      case "OpenCart":
        return { _tag: "OpenCart", cartId, at }
      case "AddItem":
        return { _tag: "AddItem", cartId, itemId, quantity, unitPrice: price ?? item.unitPrice, at }
      case "RemoveItem":
        return { _tag: "RemoveItem", cartId, itemId, at }
      case "ChangeQuantity":
        return { _tag: "ChangeQuantity", cartId, itemId, quantity, at }
      case "CheckOut":
        return { _tag: "CheckOut", cartId, at }
    }
  }))

/** Any cart command, on a pooled cart and item. */
export const cartCommand: Arbitrary.Arbitrary<Cart.CartCommand> = pick(cartKinds).pipe(Arbitrary.flatMap(cartCommandOf))

/** Sequences that open the pooled carts first, then mix every command kind (adds weighted up). */
export const cartCommands: Arbitrary.Arbitrary<ReadonlyArray<Cart.CartCommand>> = Arbitrary.all({
  opening: Arbitrary.all(cartIds.map((cartId) => at.pipe(Arbitrary.map((at): Cart.CartCommand => ({ _tag: "OpenCart", cartId, at }))))),
  rest: Arbitrary.array(cartCommand, { minLength: 5, maxLength: 60 })
}).pipe(Arbitrary.map(({ opening, rest }) => [...opening, ...rest]))

const lines: Arbitrary.Arbitrary<ReadonlyArray<Line>> = Arbitrary.array(
  Arbitrary.all({ item: pick(catalogue), quantity }).pipe(
    Arbitrary.map(({ item, quantity }): Line => ({ itemId: item.itemId, quantity, unitPrice: item.unitPrice }))
  ),
  { minLength: 1, maxLength: 3 }
)

const orderTargets = Arbitrary.all({
  orderId: pick(orderIds),
  cartId: pick(cartIds.slice(0, 2)),
  lines: oneOf(
    Arbitrary.Constant<ReadonlyArray<Line>>([{ itemId: catalogue[0]!.itemId, quantity: Quantity.make(1), unitPrice: catalogue[0]!.unitPrice }]),
    lines
  ),
  reason: Arbitrary.schema(Reason),
  at
})

/** Any order command, on a pooled order and cart. */
export const orderCommand: Arbitrary.Arbitrary<Order.OrderCommand> = Arbitrary.all({
  kind: pick<Order.OrderCommand["_tag"]>(["PlaceOrder", "PlaceOrder", "ConfirmOrder", "CancelOrder"]),
  targets: orderTargets
}).pipe(Arbitrary.map(({ kind, targets: { orderId, cartId, lines, reason, at } }): Order.OrderCommand => {
  switch (kind) {
    case "PlaceOrder":
      return { _tag: "PlaceOrder", orderId, cartId, lines, at }
    case "ConfirmOrder":
      return { _tag: "ConfirmOrder", orderId, at }
    case "CancelOrder":
      return { _tag: "CancelOrder", orderId, reason, at }
  }
}))

export const orderCommands: Arbitrary.Arbitrary<ReadonlyArray<Order.OrderCommand>> = Arbitrary.array(orderCommand, {
  minLength: 1,
  maxLength: 30
})

/** Shared settings: RUNS generated cases per law; longer sequences and more shrinking for sequences. */
export const RUNS = 200
export const props = { arbitrary: { runs: RUNS } } as const
export const sequenceProps = { arbitrary: { runs: RUNS, size: 60, maxShrinks: 1000 } } as const
