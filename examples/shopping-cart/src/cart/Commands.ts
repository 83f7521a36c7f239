/**
 * Cart commands: what a shopper asks of one cart. Every command names its cart and carries the business
 * time `at`; the caller chose the cart id (the domain never generates ids or reads a clock).
 */
import { Schema } from "effect"
import { CartId, ItemId, Quantity, Timestamp, UnitPrice } from "../Values.ts"

export const OpenCart = Schema.TaggedStruct("OpenCart", {
  cartId: CartId,
  at: Timestamp
})
export type OpenCart = typeof OpenCart.Type

/** Adds units of an item; a line already in the cart keeps its unit price, which must match. */
export const AddItem = Schema.TaggedStruct("AddItem", {
  cartId: CartId,
  itemId: ItemId,
  quantity: Quantity,
  unitPrice: UnitPrice,
  at: Timestamp
})
export type AddItem = typeof AddItem.Type

export const RemoveItem = Schema.TaggedStruct("RemoveItem", {
  cartId: CartId,
  itemId: ItemId,
  at: Timestamp
})
export type RemoveItem = typeof RemoveItem.Type

/** Sets the units of a line already in the cart. */
export const ChangeQuantity = Schema.TaggedStruct("ChangeQuantity", {
  cartId: CartId,
  itemId: ItemId,
  quantity: Quantity,
  at: Timestamp
})
export type ChangeQuantity = typeof ChangeQuantity.Type

export const CheckOut = Schema.TaggedStruct("CheckOut", {
  cartId: CartId,
  at: Timestamp
})
export type CheckOut = typeof CheckOut.Type

export const CartCommand = Schema.Union([OpenCart, AddItem, RemoveItem, ChangeQuantity, CheckOut]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type CartCommand = typeof CartCommand.Type
