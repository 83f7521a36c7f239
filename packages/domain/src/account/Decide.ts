/**
 * Account `decide`: the rules. Pure and total. Order of evaluation: (1) an account must be open, (2) a
 * transfer step the account already applied decides nothing (even after close), (3) a closed account
 * rejects the rest, (4) the command's own rules. A command whose effect is already present decides no
 * events; only Deposit and Withdraw (no operation id) apply again when repeated.
 */
import { Result } from "effect"
import type { Decider } from "../Decider.ts"
import type { TransferId } from "../Ids.ts"
import { type Amount, canCredit, canDebit, type Currency, MaxBalance } from "../Money.ts"
import type { AccountCommand, OpenAccount } from "./Commands.ts"
import type { AccountEvent } from "./Events.ts"
import {
  AccountAlreadyOpen,
  AccountIsClosed,
  AccountIsFrozen,
  AccountNotOpen,
  type AccountRejection,
  BalanceLimitExceeded,
  BalanceNotZero,
  CurrencyMismatch,
  InsufficientFunds,
  OverdraftLimitViolated,
  TransferAlreadyRefunded,
  TransferAlreadySettled,
  TransferMismatch,
  TransferNotDebited,
  TransfersPending
} from "./Rejections.ts"
import { type AccountState, evolve, initialState, type Open, pendingTransfers, reserved, type TransferLegs } from "./State.ts"

export type AccountDecision = Result.Result<ReadonlyArray<AccountEvent>, AccountRejection>

const nothing: AccountDecision = Result.succeed([])
const accept = (event: AccountEvent): AccountDecision => Result.succeed([event])
const reject = (rejection: AccountRejection): AccountDecision => Result.fail(rejection)

// --- rule checks: each returns the rejection when the rule is broken -------------------------------

const sameCurrency = (state: Open, currency: Currency) =>
  currency === state.currency
    ? undefined
    : new CurrencyMismatch({ accountId: state.accountId, accountCurrency: state.currency, requestedCurrency: currency })

const notFrozen = (state: Open) => (state.frozen ? new AccountIsFrozen({ accountId: state.accountId }) : undefined)

const fundsFor = (state: Open, amount: Amount) =>
  canDebit(state.balance, amount, state.overdraftLimit)
    ? undefined
    : new InsufficientFunds({
      accountId: state.accountId,
      balance: state.balance,
      requested: amount,
      overdraftLimit: state.overdraftLimit
    })

const roomFor = (state: Open, amount: Amount) => {
  const held = reserved(state.transfers)
  return canCredit(state.balance, amount, held)
    ? undefined
    : new BalanceLimitExceeded({
      accountId: state.accountId,
      balance: state.balance,
      reserved: held,
      requested: amount,
      maxBalance: MaxBalance
    })
}

const orAccept = (rejection: AccountRejection | undefined, event: () => AccountEvent): AccountDecision =>
  rejection === undefined ? accept(event()) : reject(rejection)

// --- transfer memory: what the account already knows about this transfer ----------------------------

/** The decision for a transfer step the account has seen before, or undefined when it is new. */
const rememberedStep = (
  command: AccountCommand,
  accountId: Open["accountId"],
  transfers: TransferLegs
): AccountDecision | undefined => {
  if (!("transferId" in command)) return undefined
  const transferId: TransferId = command.transferId
  const leg = transfers[transferId]
  const mismatch = () => reject(new TransferMismatch({ accountId, transferId }))
  switch (command._tag) {
    case "DebitForTransfer":
      if (leg === undefined) return undefined
      return leg._tag === "Outgoing" && leg.amount === command.amount && leg.toAccountId === command.toAccountId
        ? nothing
        : mismatch()
    case "CreditForTransfer":
      if (leg === undefined) return undefined
      return leg._tag === "Incoming" && leg.amount === command.amount && leg.fromAccountId === command.fromAccountId
        ? nothing
        : mismatch()
    case "RefundTransfer":
      if (leg?._tag !== "Outgoing") return reject(new TransferNotDebited({ accountId, transferId }))
      if (leg.status === "Refunded") return nothing
      if (leg.status === "Settled") return reject(new TransferAlreadySettled({ accountId, transferId }))
      return undefined
    case "SettleTransfer":
      if (leg?._tag !== "Outgoing") return reject(new TransferNotDebited({ accountId, transferId }))
      if (leg.status === "Settled") return nothing
      if (leg.status === "Refunded") return reject(new TransferAlreadyRefunded({ accountId, transferId }))
      return undefined
  }
}

// --- decisions ---------------------------------------------------------------------------------------

const decideOpenAccount = (command: OpenAccount, state: AccountState): AccountDecision => {
  switch (state.status) {
    case "Unopened":
      return accept({
        _tag: "AccountOpened",
        accountId: command.accountId,
        holderName: command.holderName,
        holderEmail: command.holderEmail,
        currency: command.currency,
        at: command.at
      })
    case "Open":
      return command.holderName === state.holderName &&
          command.holderEmail === state.holderEmail &&
          command.currency === state.currency
        ? nothing
        : reject(new AccountAlreadyOpen({ accountId: state.accountId }))
    case "Closed":
      return reject(new AccountIsClosed({ accountId: state.accountId }))
  }
}

const decideOnOpen = (command: Exclude<AccountCommand, OpenAccount>, state: Open): AccountDecision => {
  const { accountId } = state
  const { at } = command
  switch (command._tag) {
    case "Deposit": {
      const { amount } = command
      return orAccept(
        sameCurrency(state, command.currency) ?? roomFor(state, amount),
        () => ({ _tag: "MoneyDeposited", accountId, amount, currency: state.currency, at })
      )
    }
    case "Withdraw": {
      const { amount } = command
      return orAccept(
        sameCurrency(state, command.currency) ?? notFrozen(state) ?? fundsFor(state, amount),
        () => ({ _tag: "MoneyWithdrawn", accountId, amount, currency: state.currency, at })
      )
    }
    case "SetOverdraftLimit": {
      const { limit } = command
      if (limit === state.overdraftLimit) return nothing
      return state.balance < -limit
        ? reject(new OverdraftLimitViolated({ accountId, balance: state.balance, requestedLimit: limit }))
        : accept({ _tag: "OverdraftLimitSet", accountId, limit, at })
    }
    case "UpdateHolderDetails": {
      const { holderName, holderEmail } = command
      return holderName === state.holderName && holderEmail === state.holderEmail
        ? nothing
        : accept({ _tag: "HolderDetailsUpdated", accountId, holderName, holderEmail, at })
    }
    case "FreezeAccount":
      return state.frozen ? nothing : accept({ _tag: "AccountFrozen", accountId, reason: command.reason, at })
    case "UnfreezeAccount":
      return state.frozen ? accept({ _tag: "AccountUnfrozen", accountId, at }) : nothing
    case "CloseAccount": {
      const pending = pendingTransfers(state.transfers)
      return orAccept(
        notFrozen(state) ??
          (state.balance === 0 ? undefined : new BalanceNotZero({ accountId, balance: state.balance })) ??
          (pending.length === 0 ? undefined : new TransfersPending({ accountId, transferIds: pending })),
        () => ({ _tag: "AccountClosed", accountId, at })
      )
    }
    case "DebitForTransfer": {
      const { amount, transferId, toAccountId } = command
      return orAccept(
        sameCurrency(state, command.currency) ?? notFrozen(state) ?? fundsFor(state, amount),
        () => ({ _tag: "MoneyDebitedForTransfer", accountId, transferId, toAccountId, amount, at })
      )
    }
    case "CreditForTransfer": {
      const { amount, transferId, fromAccountId } = command
      return orAccept(
        sameCurrency(state, command.currency) ?? roomFor(state, amount),
        () => ({ _tag: "MoneyCreditedForTransfer", accountId, transferId, fromAccountId, amount, at })
      )
    }
    case "RefundTransfer": {
      // rememberedStep guarantees a pending outgoing leg here
      const leg = state.transfers[command.transferId]
      return leg === undefined
        ? reject(new TransferNotDebited({ accountId, transferId: command.transferId }))
        : accept({ _tag: "MoneyRefundedForTransfer", accountId, transferId: command.transferId, amount: leg.amount, at })
    }
    case "SettleTransfer":
      return accept({ _tag: "TransferDebitSettled", accountId, transferId: command.transferId, at })
  }
}

export const decide = (command: AccountCommand, state: AccountState): AccountDecision => {
  if (command._tag === "OpenAccount") return decideOpenAccount(command, state)
  if (state.status === "Unopened") return reject(new AccountNotOpen({ accountId: command.accountId }))
  const remembered = rememberedStep(command, state.accountId, state.transfers)
  if (remembered !== undefined) return remembered
  if (state.status === "Closed") {
    return command._tag === "CloseAccount" ? nothing : reject(new AccountIsClosed({ accountId: state.accountId }))
  }
  return decideOnOpen(command, state)
}

/** The Account aggregate as a Decider. */
export const decider: Decider<AccountCommand, AccountEvent, AccountState, AccountRejection> = {
  initialState,
  decide,
  evolve
}
