/**
 * The shop's command line: `open`, `add`, `remove`, `quantity`, `checkout`, `show` and `overview`, each
 * run on the shop's runtime (DATABASE_URL, or the embedded PostgreSQL in VERITY_DATA_DIR). Arguments are
 * validated by the domain's schemas; a rejected command prints its rejection and exits 1.
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type CartState, linesOf } from "./Cart.ts"
import type { OrderState } from "./Order.ts"
import * as Runtime from "./Runtime.ts"
import * as Shop from "./Shop.ts"
import { CartId, ItemId, type Line, Quantity, UnitPrice } from "./Values.ts"

const cartArg = Argument.String("cart").pipe(Argument.withSchema(CartId), Argument.withDescription("Cart id"))
const itemArg = Argument.String("item").pipe(Argument.withSchema(ItemId), Argument.withDescription("Item SKU"))
const quantityFlag = Flag.Int("quantity").pipe(Flag.withSchema(Quantity), Flag.withDefault(Quantity.make(1)), Flag.withDescription("Units"))

const money = (minor: number) => (minor / 100).toFixed(2)
const lineText = (line: Line) => `  ${line.itemId} x${line.quantity} @ ${money(line.unitPrice)}`

const cartText = (cartId: string, state: CartState, lines: ReadonlyArray<Line>) => {
  const units = lines.reduce((sum, line) => sum + line.quantity, 0)
  const total = lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0)
  return [`cart ${cartId}: ${state.status}, ${units} units, total ${money(total)}`, ...lines.map(lineText)].join("\n")
}

const orderText = (order: Option.Option<OrderState>) =>
  Option.match(order, {
    onNone: () => "no order yet",
    onSome: (state) => state.status === "Unplaced" ? "no order yet" : `order ${state.orderId}: ${state.status}, total ${money(state.total)}`
  })

/** Runs a use case on the runtime and prints its result. */
const run = <A, E, R>(effect: Effect.Effect<A, E, R>, print: (a: A) => string) =>
  effect.pipe(
    Effect.flatMap((a) => Console.log(print(a))),
    Effect.provide(Runtime.layer())
  )

const open = Command.make("open", {}, () => run(Shop.openCart, (cartId) => cartId)).pipe(
  Command.withDescription("Open a new cart; prints its id")
)

const add = Command.make(
  "add",
  {
    cart: cartArg,
    item: itemArg,
    quantity: quantityFlag,
    price: Flag.Int("price").pipe(Flag.withSchema(UnitPrice), Flag.withDescription("Unit price in minor units (cents)"))
  },
  ({ cart, item, quantity, price }) => run(Shop.addItem(cart, item, quantity, price), (state) => cartText(cart, state, linesOf(state)))
).pipe(Command.withDescription("Add units of an item to a cart"))

const remove = Command.make(
  "remove",
  { cart: cartArg, item: itemArg },
  ({ cart, item }) => run(Shop.removeItem(cart, item), (state) => cartText(cart, state, linesOf(state)))
).pipe(
  Command.withDescription("Remove an item from a cart")
)

const quantity = Command.make(
  "quantity",
  { cart: cartArg, item: itemArg, quantity: quantityFlag },
  ({ cart, item, quantity }) => run(Shop.changeQuantity(cart, item, quantity), (state) => cartText(cart, state, linesOf(state)))
).pipe(
  Command.withDescription("Set the units of an item already in a cart")
)

const checkout = Command.make(
  "checkout",
  { cart: cartArg },
  ({ cart }) => run(Shop.checkOut(cart), (shown) => `${cartText(cart, shown.cart, shown.lines)}\n${orderText(shown.order)}`)
).pipe(
  Command.withDescription("Check a cart out and show the order the checkout process placed")
)

const show = Command.make(
  "show",
  { cart: cartArg },
  ({ cart }) => run(Shop.show(cart), (shown) => `${cartText(cart, shown.cart, shown.lines)}\n${orderText(shown.order)}`)
).pipe(
  Command.withDescription("Show a cart and its order")
)

const overview = Command.make("overview", {}, () =>
  run(Shop.overview, ({ openCarts, popularItems }) =>
    [
      "open carts:",
      ...openCarts.map((c) => `  ${c.cartId}: ${c.items} units, total ${money(c.total)}`),
      "popular items:",
      ...popularItems.map((i) => `  ${i.itemId}: ${i.added} added, ${i.checkedOut} checked out`)
    ].join("\n"))).pipe(Command.withDescription("Open carts and popular items (the cart_overview read model)"))

export const shop = Command.make("shop").pipe(
  Command.withDescription("A shopping cart on Verity. Uses DATABASE_URL, or the embedded PostgreSQL in VERITY_DATA_DIR."),
  Command.withSubcommands([open, add, remove, quantity, checkout, show, overview])
)
