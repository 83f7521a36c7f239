/**
 * Order events: THE STORED CONTRACT (see cart/Events.ts for the rules of change). An order is placed
 * from a checked-out cart with that cart's lines and total, then confirmed or cancelled.
 */
import { Schema } from "effect"
import { CartId, Line, OrderId, Reason, Timestamp, Total } from "../Values.ts"

export const OrderPlaced = Schema.TaggedStruct("OrderPlaced", {
  orderId: OrderId,
  cartId: CartId,
  lines: Schema.Array(Line),
  total: Total,
  at: Timestamp
})
export type OrderPlaced = typeof OrderPlaced.Type

export const OrderConfirmed = Schema.TaggedStruct("OrderConfirmed", {
  orderId: OrderId,
  at: Timestamp
})
export type OrderConfirmed = typeof OrderConfirmed.Type

export const OrderCancelled = Schema.TaggedStruct("OrderCancelled", {
  orderId: OrderId,
  reason: Reason,
  at: Timestamp
})
export type OrderCancelled = typeof OrderCancelled.Type

export const OrderEvent = Schema.Union([OrderPlaced, OrderConfirmed, OrderCancelled]).pipe(Schema.toTaggedUnion("_tag"))
export type OrderEvent = typeof OrderEvent.Type

/** The current schema version of each order event type. */
export const OrderEventVersions = {
  OrderPlaced: 1,
  OrderConfirmed: 1,
  OrderCancelled: 1
} as const satisfies Record<OrderEvent["_tag"], number>
