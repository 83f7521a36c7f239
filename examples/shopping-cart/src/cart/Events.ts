/**
 * Cart events: THE STORED CONTRACT. Each event is stored under its `_tag` at the version in
 * `CartEventVersions`; the schemas here are the current versions. Never reshape an event in place: a
 * change is a new schema version, a bump below and an upcaster from the stored shape. Events carry what
 * their readers need (a removal names the quantity and price it took away), so a read model never has to
 * rebuild the cart to know a total.
 */
import { Schema } from "effect"
import { CartId, ItemId, Line, Quantity, Timestamp, Total, UnitPrice } from "../Values.ts"

export const CartOpened = Schema.TaggedStruct("CartOpened", {
  cartId: CartId,
  at: Timestamp
})
export type CartOpened = typeof CartOpened.Type

/** `quantity` more units of an item, at the line's unit price. */
export const ItemAdded = Schema.TaggedStruct("ItemAdded", {
  cartId: CartId,
  itemId: ItemId,
  quantity: Quantity,
  unitPrice: UnitPrice,
  at: Timestamp
})
export type ItemAdded = typeof ItemAdded.Type

/** The whole line left the cart: `quantity` units at `unitPrice`. */
export const ItemRemoved = Schema.TaggedStruct("ItemRemoved", {
  cartId: CartId,
  itemId: ItemId,
  quantity: Quantity,
  unitPrice: UnitPrice,
  at: Timestamp
})
export type ItemRemoved = typeof ItemRemoved.Type

/** The line now holds `quantity` units (it held `previousQuantity`). */
export const QuantityChanged = Schema.TaggedStruct("QuantityChanged", {
  cartId: CartId,
  itemId: ItemId,
  quantity: Quantity,
  previousQuantity: Quantity,
  unitPrice: UnitPrice,
  at: Timestamp
})
export type QuantityChanged = typeof QuantityChanged.Type

/** The cart is final: its lines and total, as the order will be placed. */
export const CartCheckedOut = Schema.TaggedStruct("CartCheckedOut", {
  cartId: CartId,
  lines: Schema.Array(Line),
  total: Total,
  at: Timestamp
})
export type CartCheckedOut = typeof CartCheckedOut.Type

export const CartEvent = Schema.Union([CartOpened, ItemAdded, ItemRemoved, QuantityChanged, CartCheckedOut]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type CartEvent = typeof CartEvent.Type

/** The current schema version of each cart event type (new events are written at it). */
export const CartEventVersions = {
  CartOpened: 1,
  ItemAdded: 1,
  ItemRemoved: 1,
  QuantityChanged: 1,
  CartCheckedOut: 1
} as const satisfies Record<CartEvent["_tag"], number>
