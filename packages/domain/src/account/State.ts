/**
 * Account state and `evolve`. The state is an explicit union on `status`: Unopened -> Open -> Closed.
 * An open account remembers every transfer that touched it (`transfers`, keyed by transfer id) so that a
 * repeated transfer step is recognised, and so that money debited for a transfer stays refundable until
 * the transfer settles. `evolve` is total: an event that cannot apply in a state leaves the state as is.
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Balance, Currency, noOverdraft, OverdraftLimit } from "../Money.ts"
import type { AccountEvent } from "./Events.ts"
import { HolderEmailField, HolderNameField } from "./Holder.ts"

/** Money this account sent for a transfer: Pending (refundable) until Settled or Refunded. */
export const OutgoingTransfer = Schema.TaggedStruct("Outgoing", {
  toAccountId: AccountId,
  amount: Amount,
  status: Schema.Literals(["Pending", "Settled", "Refunded"])
})
export type OutgoingTransfer = typeof OutgoingTransfer.Type

/** Money this account received from a transfer. */
export const IncomingTransfer = Schema.TaggedStruct("Incoming", {
  fromAccountId: AccountId,
  amount: Amount
})
export type IncomingTransfer = typeof IncomingTransfer.Type

export const TransferLeg = Schema.Union([OutgoingTransfer, IncomingTransfer]).pipe(Schema.toTaggedUnion("_tag"))
export type TransferLeg = typeof TransferLeg.Type

/** Every transfer this account took part in, by transfer id (a JSON object in snapshots). */
export const TransferLegs = Schema.Record(TransferId, TransferLeg)
export type TransferLegs = typeof TransferLegs.Type

export const Unopened = Schema.Struct({ status: Schema.Literal("Unopened") })
export type Unopened = typeof Unopened.Type

export const Open = Schema.Struct({
  status: Schema.Literal("Open"),
  accountId: AccountId,
  holderName: HolderNameField,
  holderEmail: HolderEmailField,
  currency: Currency,
  /** Invariant: balance >= -overdraftLimit, and balance + reserved(transfers) <= MaxBalance. */
  balance: Balance,
  overdraftLimit: OverdraftLimit,
  /** A frozen account lets money in (deposits, credits, refunds) but none out. */
  frozen: Schema.Boolean,
  transfers: TransferLegs
})
export type Open = typeof Open.Type

/** Closed at zero balance with no pending transfer; kept only to reject and to recognise repeats. */
export const Closed = Schema.Struct({
  status: Schema.Literal("Closed"),
  accountId: AccountId,
  transfers: TransferLegs
})
export type Closed = typeof Closed.Type

export const AccountState = Schema.Union([Unopened, Open, Closed]).pipe(Schema.toTaggedUnion("status"))
export type AccountState = typeof AccountState.Type
export type AccountStatus = AccountState["status"]

export const initialState: AccountState = { status: "Unopened" }

/** Sum of outgoing transfers that may still be refunded to this account. */
export const reserved = (transfers: TransferLegs): number => {
  let sum = 0
  for (const leg of Object.values(transfers)) {
    if (leg._tag === "Outgoing" && leg.status === "Pending") sum += leg.amount
  }
  return sum
}

/** Ids of outgoing transfers that are neither settled nor refunded yet. */
export const pendingTransfers = (transfers: TransferLegs): ReadonlyArray<TransferId> =>
  (Object.keys(transfers) as Array<TransferId>).filter((id) => {
    const leg = transfers[id]
    return leg?._tag === "Outgoing" && leg.status === "Pending"
  })

/** The balance of any state (0 unless open: an account closes only at zero). */
export const balanceOf = (state: AccountState): number => (state.status === "Open" ? state.balance : 0)

const withLeg = (state: Open, transferId: TransferId, leg: TransferLeg): Open => ({
  ...state,
  transfers: { ...state.transfers, [transferId]: leg }
})

const evolveOpen = (state: Open, event: AccountEvent): AccountState => {
  switch (event._tag) {
    case "AccountOpened":
      return state
    case "MoneyDeposited":
      return { ...state, balance: state.balance + event.amount }
    case "MoneyWithdrawn":
      return { ...state, balance: state.balance - event.amount }
    case "OverdraftLimitSet":
      return { ...state, overdraftLimit: event.limit }
    case "HolderDetailsUpdated":
      return { ...state, holderName: event.holderName, holderEmail: event.holderEmail }
    case "AccountFrozen":
      return { ...state, frozen: true }
    case "AccountUnfrozen":
      return { ...state, frozen: false }
    case "AccountClosed":
      return { status: "Closed", accountId: state.accountId, transfers: state.transfers }
    case "MoneyDebitedForTransfer":
      return withLeg({ ...state, balance: state.balance - event.amount }, event.transferId, {
        _tag: "Outgoing",
        toAccountId: event.toAccountId,
        amount: event.amount,
        status: "Pending"
      })
    case "MoneyCreditedForTransfer":
      return withLeg({ ...state, balance: state.balance + event.amount }, event.transferId, {
        _tag: "Incoming",
        fromAccountId: event.fromAccountId,
        amount: event.amount
      })
    case "MoneyRefundedForTransfer": {
      const leg = state.transfers[event.transferId]
      if (leg?._tag !== "Outgoing" || leg.status !== "Pending") return state
      return withLeg({ ...state, balance: state.balance + event.amount }, event.transferId, {
        ...leg,
        status: "Refunded"
      })
    }
    case "TransferDebitSettled": {
      const leg = state.transfers[event.transferId]
      if (leg?._tag !== "Outgoing" || leg.status !== "Pending") return state
      return withLeg(state, event.transferId, { ...leg, status: "Settled" })
    }
  }
}

export const evolve = (state: AccountState, event: AccountEvent): AccountState => {
  switch (state.status) {
    case "Unopened":
      return event._tag === "AccountOpened"
        ? {
          status: "Open",
          accountId: event.accountId,
          holderName: event.holderName,
          holderEmail: event.holderEmail,
          currency: event.currency,
          balance: 0,
          overdraftLimit: noOverdraft,
          frozen: false,
          transfers: {}
        }
        : state
    case "Open":
      return evolveOpen(state, event)
    case "Closed":
      return state
  }
}
