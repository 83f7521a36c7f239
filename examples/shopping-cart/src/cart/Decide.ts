/**
 * Cart `decide`: the rules. Pure and total. Order of evaluation: (1) opening is decided on any state,
 * (2) every other command needs an opened cart, (3) a repeated checkout decides nothing, (4) a checked-out
 * cart rejects the rest, (5) the command's own rules. Opening, removing, changing to the same quantity and
 * checking out again decide no events once their effect is there; only AddItem adds again when repeated.
 */
import type { Decider } from "@verity/kernel/Decider"
import { Result } from "effect"
import { MaxLines, MaxQuantity, totalOf } from "../Values.ts"
import type { CartCommand, OpenCart } from "./Commands.ts"
import type { CartEvent } from "./Events.ts"
import {
  CartIsCheckedOut,
  CartIsEmpty,
  CartIsFull,
  CartNotOpen,
  type CartRejection,
  ItemNotInCart,
  QuantityLimitExceeded,
  UnitPriceMismatch
} from "./Rejections.ts"
import { type CartState, evolve, initialState, linesOf, type Open } from "./State.ts"

export type CartDecision = Result.Result<ReadonlyArray<CartEvent>, CartRejection>

const nothing: CartDecision = Result.succeed([])
const accept = (event: CartEvent): CartDecision => Result.succeed([event])
const reject = (rejection: CartRejection): CartDecision => Result.fail(rejection)

const decideOpenCart = (command: OpenCart, state: CartState): CartDecision => {
  switch (state.status) {
    case "Unopened":
      return accept({ _tag: "CartOpened", cartId: command.cartId, at: command.at })
    case "Open":
      return nothing
    case "CheckedOut":
      return reject(new CartIsCheckedOut({ cartId: state.cartId }))
  }
}

const decideOnOpen = (command: Exclude<CartCommand, OpenCart>, state: Open): CartDecision => {
  const { cartId } = state
  const { at } = command
  switch (command._tag) {
    case "AddItem": {
      const { itemId, quantity, unitPrice } = command
      const line = state.lines[itemId]
      if (line === undefined) {
        return Object.keys(state.lines).length >= MaxLines
          ? reject(new CartIsFull({ cartId, maxLines: MaxLines }))
          : accept({ _tag: "ItemAdded", cartId, itemId, quantity, unitPrice, at })
      }
      if (line.unitPrice !== unitPrice) {
        return reject(new UnitPriceMismatch({ cartId, itemId, linePrice: line.unitPrice, requestedPrice: unitPrice }))
      }
      const requested = line.quantity + quantity
      return requested > MaxQuantity
        ? reject(new QuantityLimitExceeded({ cartId, itemId, requested, maxQuantity: MaxQuantity }))
        : accept({ _tag: "ItemAdded", cartId, itemId, quantity, unitPrice, at })
    }
    case "RemoveItem": {
      const line = state.lines[command.itemId]
      return line === undefined
        ? nothing
        : accept({ _tag: "ItemRemoved", cartId, itemId: line.itemId, quantity: line.quantity, unitPrice: line.unitPrice, at })
    }
    case "ChangeQuantity": {
      const { itemId, quantity } = command
      const line = state.lines[itemId]
      if (line === undefined) return reject(new ItemNotInCart({ cartId, itemId }))
      return line.quantity === quantity
        ? nothing
        : accept({ _tag: "QuantityChanged", cartId, itemId, quantity, previousQuantity: line.quantity, unitPrice: line.unitPrice, at })
    }
    case "CheckOut": {
      const lines = linesOf(state)
      return lines.length === 0
        ? reject(new CartIsEmpty({ cartId }))
        : accept({ _tag: "CartCheckedOut", cartId, lines, total: totalOf(lines), at })
    }
  }
}

export const decide = (command: CartCommand, state: CartState): CartDecision => {
  if (command._tag === "OpenCart") return decideOpenCart(command, state)
  if (state.status === "Unopened") return reject(new CartNotOpen({ cartId: command.cartId }))
  if (state.status === "CheckedOut") {
    return command._tag === "CheckOut" ? nothing : reject(new CartIsCheckedOut({ cartId: state.cartId }))
  }
  return decideOnOpen(command, state)
}

/** The Cart aggregate as a Decider. */
export const decider: Decider<CartCommand, CartEvent, CartState, CartRejection> = { initialState, decide, evolve }
