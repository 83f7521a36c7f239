/**
 * Cart state and `evolve`. The state is a union on `status`: Unopened -> Open -> CheckedOut. An open cart
 * holds its lines by item id (at most MaxLines, each within 1..MaxQuantity units). `evolve` is total: an
 * event that cannot apply in a state leaves the state as it is.
 */
import { Schema } from "effect"
import { CartId, clampQuantity, ItemId, Line } from "../Values.ts"
import type { CartEvent } from "./Events.ts"

export const Unopened = Schema.Struct({ status: Schema.Literal("Unopened") })
export type Unopened = typeof Unopened.Type

export const Open = Schema.Struct({
  status: Schema.Literal("Open"),
  cartId: CartId,
  lines: Schema.Record(ItemId, Line)
})
export type Open = typeof Open.Type

/** Checked out: final, kept to reject changes and to recognise a repeated checkout. */
export const CheckedOut = Schema.Struct({
  status: Schema.Literal("CheckedOut"),
  cartId: CartId,
  lines: Schema.Record(ItemId, Line)
})
export type CheckedOut = typeof CheckedOut.Type

export const CartState = Schema.Union([Unopened, Open, CheckedOut]).pipe(Schema.toTaggedUnion("status"))
export type CartState = typeof CartState.Type

export const initialState: CartState = { status: "Unopened" }

/** The lines of any state, in item order (none before opening). */
export const linesOf = (state: CartState): ReadonlyArray<Line> =>
  state.status === "Unopened"
    ? []
    : Object.values(state.lines).sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))

const evolveOpen = (state: Open, event: CartEvent): CartState => {
  switch (event._tag) {
    case "CartOpened":
      return state
    case "ItemAdded": {
      const line = state.lines[event.itemId]
      const quantity = clampQuantity((line?.quantity ?? 0) + event.quantity)
      return {
        ...state,
        lines: { ...state.lines, [event.itemId]: { itemId: event.itemId, quantity, unitPrice: line?.unitPrice ?? event.unitPrice } }
      }
    }
    case "ItemRemoved": {
      const { [event.itemId]: _removed, ...lines } = state.lines
      return { ...state, lines }
    }
    case "QuantityChanged": {
      const line = state.lines[event.itemId]
      if (line === undefined) return state
      return { ...state, lines: { ...state.lines, [event.itemId]: { ...line, quantity: event.quantity } } }
    }
    case "CartCheckedOut":
      return { status: "CheckedOut", cartId: state.cartId, lines: state.lines }
  }
}

export const evolve = (state: CartState, event: CartEvent): CartState => {
  switch (state.status) {
    case "Unopened":
      return event._tag === "CartOpened" ? { status: "Open", cartId: event.cartId, lines: {} } : state
    case "Open":
      return evolveOpen(state, event)
    case "CheckedOut":
      return state
  }
}
