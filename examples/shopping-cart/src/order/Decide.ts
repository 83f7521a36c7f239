/**
 * Order `decide`: the rules. Pure and total. Placing an order again with the same cart and lines decides
 * nothing, whatever happened to it since (so a redelivered checkout places nothing new); with another
 * cart or other lines it is rejected. Confirming a confirmed order, or cancelling a cancelled one, decides
 * nothing; confirmation and cancellation exclude each other.
 */
import type { Decider } from "@verity/kernel/Decider"
import { Result } from "effect"
import { type Line, totalOf } from "../Values.ts"
import type { OrderCommand, PlaceOrder } from "./Commands.ts"
import type { OrderEvent } from "./Events.ts"
import { OrderAlreadyPlaced, OrderIsCancelled, OrderIsConfirmed, OrderNotPlaced, type OrderRejection } from "./Rejections.ts"
import { evolve, initialState, type OrderState } from "./State.ts"

export type OrderDecision = Result.Result<ReadonlyArray<OrderEvent>, OrderRejection>

const nothing: OrderDecision = Result.succeed([])
const accept = (event: OrderEvent): OrderDecision => Result.succeed([event])
const reject = (rejection: OrderRejection): OrderDecision => Result.fail(rejection)

const sameLines = (a: ReadonlyArray<Line>, b: ReadonlyArray<Line>) =>
  a.length === b.length &&
  a.every((line, i) => line.itemId === b[i]?.itemId && line.quantity === b[i].quantity && line.unitPrice === b[i].unitPrice)

const decidePlaceOrder = (command: PlaceOrder, state: OrderState): OrderDecision => {
  if (state.status === "Unplaced") {
    const { orderId, cartId, lines, at } = command
    return accept({ _tag: "OrderPlaced", orderId, cartId, lines, total: totalOf(lines), at })
  }
  return state.cartId === command.cartId && sameLines(state.lines, command.lines)
    ? nothing
    : reject(new OrderAlreadyPlaced({ orderId: state.orderId, cartId: state.cartId }))
}

export const decide = (command: OrderCommand, state: OrderState): OrderDecision => {
  if (command._tag === "PlaceOrder") return decidePlaceOrder(command, state)
  const { orderId, at } = command
  switch (state.status) {
    case "Unplaced":
      return reject(new OrderNotPlaced({ orderId }))
    case "Placed":
      return command._tag === "ConfirmOrder"
        ? accept({ _tag: "OrderConfirmed", orderId, at })
        : accept({ _tag: "OrderCancelled", orderId, reason: command.reason, at })
    case "Confirmed":
      return command._tag === "ConfirmOrder" ? nothing : reject(new OrderIsConfirmed({ orderId }))
    case "Cancelled":
      return command._tag === "CancelOrder" ? nothing : reject(new OrderIsCancelled({ orderId }))
  }
}

/** The Order aggregate as a Decider. */
export const decider: Decider<OrderCommand, OrderEvent, OrderState, OrderRejection> = { initialState, decide, evolve }
