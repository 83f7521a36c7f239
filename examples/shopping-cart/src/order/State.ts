/**
 * Order state and `evolve`: a union on `status`, Unplaced -> Placed -> Confirmed | Cancelled. A placed
 * order keeps the cart it came from and its lines, so a repeated placement is recognised. `evolve` is
 * total: an event that cannot apply in a state leaves the state as it is.
 */
import { Schema } from "effect"
import { CartId, Line, OrderId, Reason, Total } from "../Values.ts"
import type { OrderEvent } from "./Events.ts"

export const Unplaced = Schema.Struct({ status: Schema.Literal("Unplaced") })
export type Unplaced = typeof Unplaced.Type

const placedFields = {
  orderId: OrderId,
  cartId: CartId,
  lines: Schema.Array(Line),
  total: Total
}

export const Placed = Schema.Struct({ status: Schema.Literal("Placed"), ...placedFields })
export type Placed = typeof Placed.Type

export const Confirmed = Schema.Struct({ status: Schema.Literal("Confirmed"), ...placedFields })
export type Confirmed = typeof Confirmed.Type

export const Cancelled = Schema.Struct({ status: Schema.Literal("Cancelled"), ...placedFields, reason: Reason })
export type Cancelled = typeof Cancelled.Type

export const OrderState = Schema.Union([Unplaced, Placed, Confirmed, Cancelled]).pipe(Schema.toTaggedUnion("status"))
export type OrderState = typeof OrderState.Type

export const initialState: OrderState = { status: "Unplaced" }

export const evolve = (state: OrderState, event: OrderEvent): OrderState => {
  switch (event._tag) {
    case "OrderPlaced":
      return state.status === "Unplaced"
        ? { status: "Placed", orderId: event.orderId, cartId: event.cartId, lines: event.lines, total: event.total }
        : state
    case "OrderConfirmed":
      return state.status === "Placed" ? { ...state, status: "Confirmed" } : state
    case "OrderCancelled":
      return state.status === "Placed" ? { ...state, status: "Cancelled", reason: event.reason } : state
  }
}
