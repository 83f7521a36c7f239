/**
 * Order commands. `PlaceOrder` is sent by the checkout process with the checked-out cart's lines (at
 * least one); the order's total is computed from them, never taken from the caller.
 */
import { Schema } from "effect"
import { CartId, Line, OrderId, Reason, Timestamp } from "../Values.ts"

export const PlaceOrder = Schema.TaggedStruct("PlaceOrder", {
  orderId: OrderId,
  cartId: CartId,
  lines: Schema.Array(Line).check(Schema.isMinLength(1)),
  at: Timestamp
})
export type PlaceOrder = typeof PlaceOrder.Type

export const ConfirmOrder = Schema.TaggedStruct("ConfirmOrder", {
  orderId: OrderId,
  at: Timestamp
})
export type ConfirmOrder = typeof ConfirmOrder.Type

export const CancelOrder = Schema.TaggedStruct("CancelOrder", {
  orderId: OrderId,
  reason: Reason,
  at: Timestamp
})
export type CancelOrder = typeof CancelOrder.Type

export const OrderCommand = Schema.Union([PlaceOrder, ConfirmOrder, CancelOrder]).pipe(Schema.toTaggedUnion("_tag"))
export type OrderCommand = typeof OrderCommand.Type
