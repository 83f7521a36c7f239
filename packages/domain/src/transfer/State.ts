/**
 * Transfer state and `evolve`: an explicit state machine on `status`.
 *
 *   NotRequested -> Requested -> Debited -> Credited -> Completed
 *                      |            `-> Refunding -> Failed (failedStep "Credit": debit refunded)
 *                      `-> Failed (failedStep "Debit": nothing was debited, nothing to refund)
 *
 * `evolve` is total: an event that is not an edge out of the current status leaves the state as is.
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Currency } from "../Money.ts"
import { Reason } from "../Text.ts"
import type { TransferEvent } from "./Events.ts"

const details = {
  transferId: TransferId,
  fromAccountId: AccountId,
  toAccountId: AccountId,
  amount: Amount,
  currency: Currency
}

export const NotRequested = Schema.Struct({ status: Schema.Literal("NotRequested") })
export const Requested = Schema.Struct({ status: Schema.Literal("Requested"), ...details })
export const Debited = Schema.Struct({ status: Schema.Literal("Debited"), ...details })
export const Credited = Schema.Struct({ status: Schema.Literal("Credited"), ...details })
export const Completed = Schema.Struct({ status: Schema.Literal("Completed"), ...details })
/** The credit was rejected (`reason`); the debit is being refunded. */
export const Refunding = Schema.Struct({ status: Schema.Literal("Refunding"), ...details, reason: Reason })
/** Terminal failure. failedStep "Debit": nothing moved. failedStep "Credit": the debit was refunded. */
export const Failed = Schema.Struct({
  status: Schema.Literal("Failed"),
  ...details,
  failedStep: Schema.Literals(["Debit", "Credit"]),
  reason: Reason
})

export const TransferState = Schema.Union([NotRequested, Requested, Debited, Credited, Completed, Refunding, Failed])
  .pipe(Schema.toTaggedUnion("status"))
export type TransferState = typeof TransferState.Type

export const TransferStatus = Schema.Literals(TransferState.discriminants)
export type TransferStatus = TransferState["status"]

export const initialState: TransferState = { status: "NotRequested" }

/** True once the transfer can no longer change. */
export const isTerminal = (state: TransferState): boolean => state.status === "Completed" || state.status === "Failed"

/** The transfer facts, once requested. */
export type TransferDetails = Exclude<TransferState, { readonly status: "NotRequested" }>

const detailsOf = (state: TransferDetails) => ({
  transferId: state.transferId,
  fromAccountId: state.fromAccountId,
  toAccountId: state.toAccountId,
  amount: state.amount,
  currency: state.currency
})

export const evolve = (state: TransferState, event: TransferEvent): TransferState => {
  switch (event._tag) {
    case "TransferRequested":
      return state.status === "NotRequested"
        ? {
          status: "Requested",
          transferId: event.transferId,
          fromAccountId: event.fromAccountId,
          toAccountId: event.toAccountId,
          amount: event.amount,
          currency: event.currency
        }
        : state
    case "SourceAccountDebited":
      return state.status === "Requested" ? { ...detailsOf(state), status: "Debited" } : state
    case "SourceDebitRejected":
      return state.status === "Requested"
        ? { ...detailsOf(state), status: "Failed", failedStep: "Debit", reason: event.reason }
        : state
    case "TargetAccountCredited":
      return state.status === "Debited" ? { ...detailsOf(state), status: "Credited" } : state
    case "TargetCreditRejected":
      return state.status === "Debited" ? { ...detailsOf(state), status: "Refunding", reason: event.reason } : state
    case "SourceAccountRefunded":
      return state.status === "Refunding"
        ? { ...detailsOf(state), status: "Failed", failedStep: "Credit", reason: state.reason }
        : state
    case "TransferCompleted":
      return state.status === "Credited" ? { ...detailsOf(state), status: "Completed" } : state
  }
}
