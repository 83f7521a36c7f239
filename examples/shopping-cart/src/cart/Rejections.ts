/**
 * Cart rejections: one class per broken rule, carrying the facts of the rule. `Schema.TaggedError`s, so
 * they travel in the error channel and an API can declare them.
 */
import { Schema } from "effect"
import { CartId, ItemId, UnitPrice } from "../Values.ts"

/** The cart was never opened. */
export class CartNotOpen extends Schema.TaggedError<CartNotOpen>()("CartNotOpen", {
  cartId: CartId
}) {}

/** The cart is checked out: nothing changes it any more. */
export class CartIsCheckedOut extends Schema.TaggedError<CartIsCheckedOut>()("CartIsCheckedOut", {
  cartId: CartId
}) {}

/** Checking out a cart without lines. */
export class CartIsEmpty extends Schema.TaggedError<CartIsEmpty>()("CartIsEmpty", {
  cartId: CartId
}) {}

/** A new item in a cart that already holds MaxLines items. */
export class CartIsFull extends Schema.TaggedError<CartIsFull>()("CartIsFull", {
  cartId: CartId,
  maxLines: Schema.Int
}) {}

/** The line would hold more than `maxQuantity` units. */
export class QuantityLimitExceeded extends Schema.TaggedError<QuantityLimitExceeded>()("QuantityLimitExceeded", {
  cartId: CartId,
  itemId: ItemId,
  requested: Schema.Int,
  maxQuantity: Schema.Int
}) {}

/** Adding units of a line at a price other than the line's. */
export class UnitPriceMismatch extends Schema.TaggedError<UnitPriceMismatch>()("UnitPriceMismatch", {
  cartId: CartId,
  itemId: ItemId,
  linePrice: UnitPrice,
  requestedPrice: UnitPrice
}) {}

/** Changing the quantity of an item the cart does not hold. */
export class ItemNotInCart extends Schema.TaggedError<ItemNotInCart>()("ItemNotInCart", {
  cartId: CartId,
  itemId: ItemId
}) {}

export const CartRejection = Schema.Union([
  CartNotOpen,
  CartIsCheckedOut,
  CartIsEmpty,
  CartIsFull,
  QuantityLimitExceeded,
  UnitPriceMismatch,
  ItemNotInCart
])
export type CartRejection = typeof CartRejection.Type
