/**
 * A tiny typed domain for the rehydration scenario: an account balance with three event types. It is
 * deliberately small (the event store knows no real domain), but it goes through the same path as a real
 * aggregate: EventCodec (Schema decode per event) and a Decider fold.
 */
import { Result, Schema } from "effect"
import type { Decider } from "../src/CommandHandler.ts"
import * as EventCodec from "../src/EventCodec.ts"

export const Opened = Schema.TaggedStruct("Opened", { owner: Schema.String, currency: Schema.String })
export const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int, reference: Schema.String })
export const Withdrawn = Schema.TaggedStruct("Withdrawn", { amount: Schema.Int, reference: Schema.String })

export const LedgerEvent = Schema.Union([Opened, Deposited, Withdrawn])
export type LedgerEvent = typeof LedgerEvent.Type

export const State = Schema.Struct({
  open: Schema.Boolean,
  currency: Schema.String,
  /** In cents, so the fold is exact. */
  balance: Schema.Int,
  transactions: Schema.Int
})
export type State = typeof State.Type

export type Command = { readonly _tag: "Deposit"; readonly amount: number; readonly reference: string }

export const codec = EventCodec.make({ schema: LedgerEvent, versions: { Opened: 1, Deposited: 1, Withdrawn: 1 } })

export const decider: Decider<Command, LedgerEvent, State, string> = {
  initialState: { open: false, currency: "", balance: 0, transactions: 0 },
  decide: (command, state) =>
    state.open
      ? Result.succeed([Deposited.make({ amount: command.amount, reference: command.reference })])
      : Result.fail("account is not open"),
  evolve: (state, event) => {
    switch (event._tag) {
      case "Opened":
        return { ...state, open: true, currency: event.currency }
      case "Deposited":
        return { ...state, balance: state.balance + event.amount, transactions: state.transactions + 1 }
      case "Withdrawn":
        return { ...state, balance: state.balance - event.amount, transactions: state.transactions + 1 }
    }
  }
}

/** The stream's history: an opening, then deposits with a withdrawal every third event. */
export const history = (length: number): Array<LedgerEvent> =>
  Array.from({ length }, (_, i): LedgerEvent =>
    i === 0
      ? Opened.make({ owner: "Alice Example", currency: "EUR" })
      : i % 3 === 0
      ? Withdrawn.make({ amount: 2_500 + i, reference: `ATM-${i}` })
      : Deposited.make({ amount: 10_000 + i, reference: `INV-2026-${String(i).padStart(6, "0")}` }))
