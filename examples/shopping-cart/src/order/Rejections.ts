/** Order rejections: one class per broken rule, carrying the facts of the rule. */
import { Schema } from "effect"
import { CartId, OrderId } from "../Values.ts"

/** The order was never placed. */
export class OrderNotPlaced extends Schema.TaggedError<OrderNotPlaced>()("OrderNotPlaced", {
  orderId: OrderId
}) {}

/** The order id is already taken by an order of another cart, or with other lines. */
export class OrderAlreadyPlaced extends Schema.TaggedError<OrderAlreadyPlaced>()("OrderAlreadyPlaced", {
  orderId: OrderId,
  cartId: CartId
}) {}

/** A cancelled order cannot be confirmed. */
export class OrderIsCancelled extends Schema.TaggedError<OrderIsCancelled>()("OrderIsCancelled", {
  orderId: OrderId
}) {}

/** A confirmed order cannot be cancelled. */
export class OrderIsConfirmed extends Schema.TaggedError<OrderIsConfirmed>()("OrderIsConfirmed", {
  orderId: OrderId
}) {}

export const OrderRejection = Schema.Union([OrderNotPlaced, OrderAlreadyPlaced, OrderIsCancelled, OrderIsConfirmed])
export type OrderRejection = typeof OrderRejection.Type
