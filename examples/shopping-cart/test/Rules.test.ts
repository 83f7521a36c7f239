/**
 * The cart's and the order's rules as given/when/then examples: given past events, when a command, then
 * the events it decides or the rejection it names. One example per rule of the table in the README.
 */
import { assert, describe, it } from "@effect/vitest"
import { fold } from "@verity/kernel/Decider"
import { Result } from "effect"
import * as Cart from "../src/Cart.ts"
import * as Order from "../src/Order.ts"
import { CartId, ItemId, MaxLines, MaxQuantity, OrderId, Quantity, Reason, Timestamp, UnitPrice } from "../src/Values.ts"

const cartId = CartId.make("0c000000-0000-4000-8000-0000000000aa")
const book = ItemId.make("book-42")
const at = Timestamp.make(1_700_000_000_000)
const q = (n: number) => Quantity.make(n)
const price = UnitPrice.make(1999)

const given = (...events: ReadonlyArray<Cart.CartEvent>) => ({
  when: (command: Cart.CartCommand) => Cart.decide(command, fold(Cart.decider, events))
})

const opened: Cart.CartEvent = { _tag: "CartOpened", cartId, at }
const bookAdded = (quantity: number): Cart.CartEvent => ({ _tag: "ItemAdded", cartId, itemId: book, quantity: q(quantity), unitPrice: price, at })
const checkedOut: Cart.CartEvent = { _tag: "CartCheckedOut", cartId, lines: [{ itemId: book, quantity: q(1), unitPrice: price }], total: 1999, at }

describe("Cart rules", () => {
  it("opening decides CartOpened once; again it decides nothing", () => {
    assert.deepStrictEqual(given().when({ _tag: "OpenCart", cartId, at }), Result.succeed([opened]))
    assert.deepStrictEqual(given(opened).when({ _tag: "OpenCart", cartId, at }), Result.succeed([]))
  })

  it("nothing but opening works on a cart never opened", () => {
    assert.deepStrictEqual(given().when({ _tag: "CheckOut", cartId, at }), Result.fail(new Cart.CartNotOpen({ cartId })))
  })

  it("adding up to MaxQuantity units of a line is accepted, one more is not", () => {
    assert.deepStrictEqual(
      given(opened, bookAdded(MaxQuantity - 1)).when({ _tag: "AddItem", cartId, itemId: book, quantity: q(1), unitPrice: price, at }),
      Result.succeed([bookAdded(1)])
    )
    assert.deepStrictEqual(
      given(opened, bookAdded(MaxQuantity)).when({ _tag: "AddItem", cartId, itemId: book, quantity: q(1), unitPrice: price, at }),
      Result.fail(new Cart.QuantityLimitExceeded({ cartId, itemId: book, requested: MaxQuantity + 1, maxQuantity: MaxQuantity }))
    )
  })

  it("a line keeps its unit price", () => {
    const other = UnitPrice.make(1500)
    assert.deepStrictEqual(
      given(opened, bookAdded(1)).when({ _tag: "AddItem", cartId, itemId: book, quantity: q(1), unitPrice: other, at }),
      Result.fail(new Cart.UnitPriceMismatch({ cartId, itemId: book, linePrice: price, requestedPrice: other }))
    )
  })

  it("a cart holds at most MaxLines items", () => {
    const lines = Array.from({ length: MaxLines }, (_, i): Cart.CartEvent => ({
      _tag: "ItemAdded",
      cartId,
      itemId: ItemId.make(`sku-${i}`),
      quantity: q(1),
      unitPrice: price,
      at
    }))
    assert.deepStrictEqual(
      given(opened, ...lines).when({ _tag: "AddItem", cartId, itemId: book, quantity: q(1), unitPrice: price, at }),
      Result.fail(new Cart.CartIsFull({ cartId, maxLines: MaxLines }))
    )
  })

  it("removing takes the whole line away, with what it held; a missing item decides nothing", () => {
    assert.deepStrictEqual(
      given(opened, bookAdded(3)).when({ _tag: "RemoveItem", cartId, itemId: book, at }),
      Result.succeed([{ _tag: "ItemRemoved", cartId, itemId: book, quantity: q(3), unitPrice: price, at }])
    )
    assert.deepStrictEqual(given(opened).when({ _tag: "RemoveItem", cartId, itemId: book, at }), Result.succeed([]))
  })

  it("changing a quantity needs the item in the cart; the same quantity decides nothing", () => {
    assert.deepStrictEqual(
      given(opened).when({ _tag: "ChangeQuantity", cartId, itemId: book, quantity: q(2), at }),
      Result.fail(new Cart.ItemNotInCart({ cartId, itemId: book }))
    )
    assert.deepStrictEqual(
      given(opened, bookAdded(2)).when({ _tag: "ChangeQuantity", cartId, itemId: book, quantity: q(5), at }),
      Result.succeed([{ _tag: "QuantityChanged", cartId, itemId: book, quantity: q(5), previousQuantity: q(2), unitPrice: price, at }])
    )
    assert.deepStrictEqual(given(opened, bookAdded(2)).when({ _tag: "ChangeQuantity", cartId, itemId: book, quantity: q(2), at }), Result.succeed([]))
  })

  it("an empty cart cannot be checked out; a checkout carries the lines and their total", () => {
    assert.deepStrictEqual(given(opened).when({ _tag: "CheckOut", cartId, at }), Result.fail(new Cart.CartIsEmpty({ cartId })))
    assert.deepStrictEqual(given(opened, bookAdded(1)).when({ _tag: "CheckOut", cartId, at }), Result.succeed([checkedOut]))
  })

  it("a checked-out cart changes no more; checking out again decides nothing", () => {
    assert.deepStrictEqual(given(opened, bookAdded(1), checkedOut).when({ _tag: "CheckOut", cartId, at }), Result.succeed([]))
    for (
      const command of [
        { _tag: "OpenCart", cartId, at },
        { _tag: "AddItem", cartId, itemId: book, quantity: q(1), unitPrice: price, at },
        { _tag: "RemoveItem", cartId, itemId: book, at }
      ] satisfies ReadonlyArray<Cart.CartCommand>
    ) {
      assert.deepStrictEqual(given(opened, bookAdded(1), checkedOut).when(command), Result.fail(new Cart.CartIsCheckedOut({ cartId })))
    }
  })
})

describe("Order rules", () => {
  const orderId = OrderId.make("0d000000-0000-4000-8000-0000000000aa")
  const lines = [{ itemId: book, quantity: q(2), unitPrice: price }]
  const placed: Order.OrderEvent = { _tag: "OrderPlaced", orderId, cartId, lines, total: 3998, at }
  const decideAfter = (events: ReadonlyArray<Order.OrderEvent>, command: Order.OrderCommand) => Order.decide(command, fold(Order.decider, events))

  it("an order is placed once from its cart; another cart cannot take its id", () => {
    assert.deepStrictEqual(decideAfter([], { _tag: "PlaceOrder", orderId, cartId, lines, at }), Result.succeed([placed]))
    assert.deepStrictEqual(decideAfter([placed], { _tag: "PlaceOrder", orderId, cartId, lines, at }), Result.succeed([]))
    const otherCart = CartId.make("0c000000-0000-4000-8000-0000000000bb")
    assert.deepStrictEqual(
      decideAfter([placed], { _tag: "PlaceOrder", orderId, cartId: otherCart, lines, at }),
      Result.fail(new Order.OrderAlreadyPlaced({ orderId, cartId }))
    )
  })

  it("confirmed or cancelled, never both", () => {
    const confirmed: Order.OrderEvent = { _tag: "OrderConfirmed", orderId, at }
    const reason = Reason.make("changed my mind")
    assert.deepStrictEqual(decideAfter([], { _tag: "ConfirmOrder", orderId, at }), Result.fail(new Order.OrderNotPlaced({ orderId })))
    assert.deepStrictEqual(decideAfter([placed], { _tag: "ConfirmOrder", orderId, at }), Result.succeed([confirmed]))
    assert.deepStrictEqual(decideAfter([placed, confirmed], { _tag: "ConfirmOrder", orderId, at }), Result.succeed([]))
    assert.deepStrictEqual(
      decideAfter([placed, confirmed], { _tag: "CancelOrder", orderId, reason, at }),
      Result.fail(new Order.OrderIsConfirmed({ orderId }))
    )
  })
})
