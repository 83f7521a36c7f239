/**
 * Account rejections: one class per broken rule, carrying the facts of the rule. They are
 * `Schema.TaggedError`s so an HTTP layer can declare them (and choose status codes: none here).
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Balance, Currency, OverdraftLimit } from "../Money.ts"

/** The account was never opened. */
export class AccountNotOpen extends Schema.TaggedError<AccountNotOpen>()("AccountNotOpen", {
  accountId: AccountId
}) {}

/** Opening an account that is already open with different holder details or currency. */
export class AccountAlreadyOpen extends Schema.TaggedError<AccountAlreadyOpen>()("AccountAlreadyOpen", {
  accountId: AccountId
}) {}

/** The account is closed: nothing changes it any more. */
export class AccountIsClosed extends Schema.TaggedError<AccountIsClosed>()("AccountIsClosed", {
  accountId: AccountId
}) {}

/** The account is frozen: no money may leave it, and it cannot be closed. */
export class AccountIsFrozen extends Schema.TaggedError<AccountIsFrozen>()("AccountIsFrozen", {
  accountId: AccountId
}) {}

/** The operation's currency is not the account's currency. */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>()("CurrencyMismatch", {
  accountId: AccountId,
  accountCurrency: Currency,
  requestedCurrency: Currency
}) {}

/** Taking `requested` out would bring the balance below `-overdraftLimit`. */
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  accountId: AccountId,
  balance: Balance,
  requested: Amount,
  overdraftLimit: OverdraftLimit
}) {}

/** Adding `requested` would bring the balance plus the refundable transfers above `maxBalance`. */
export class BalanceLimitExceeded extends Schema.TaggedError<BalanceLimitExceeded>()("BalanceLimitExceeded", {
  accountId: AccountId,
  balance: Balance,
  reserved: Schema.Int,
  requested: Amount,
  maxBalance: Schema.Int
}) {}

/** The current balance is already below `-requestedLimit`. */
export class OverdraftLimitViolated extends Schema.TaggedError<OverdraftLimitViolated>()("OverdraftLimitViolated", {
  accountId: AccountId,
  balance: Balance,
  requestedLimit: OverdraftLimit
}) {}

/** An account closes only at a zero balance. */
export class BalanceNotZero extends Schema.TaggedError<BalanceNotZero>()("BalanceNotZero", {
  accountId: AccountId,
  balance: Balance
}) {}

/** An account cannot close while money it sent may still be refunded to it. */
export class TransfersPending extends Schema.TaggedError<TransfersPending>()("TransfersPending", {
  accountId: AccountId,
  transferIds: Schema.Array(TransferId)
}) {}

/** Refund or settle of a transfer that never debited this account. */
export class TransferNotDebited extends Schema.TaggedError<TransferNotDebited>()("TransferNotDebited", {
  accountId: AccountId,
  transferId: TransferId
}) {}

/** Refund of a transfer whose debit was already settled (it completed). */
export class TransferAlreadySettled extends Schema.TaggedError<TransferAlreadySettled>()("TransferAlreadySettled", {
  accountId: AccountId,
  transferId: TransferId
}) {}

/** Settle of a transfer whose debit was already refunded (it failed). */
export class TransferAlreadyRefunded extends Schema.TaggedError<TransferAlreadyRefunded>()(
  "TransferAlreadyRefunded",
  { accountId: AccountId, transferId: TransferId }
) {}

/** A transfer id already used on this account with other facts (direction, counterparty or amount). */
export class TransferMismatch extends Schema.TaggedError<TransferMismatch>()("TransferMismatch", {
  accountId: AccountId,
  transferId: TransferId
}) {}

export const AccountRejection = Schema.Union([
  AccountNotOpen,
  AccountAlreadyOpen,
  AccountIsClosed,
  AccountIsFrozen,
  CurrencyMismatch,
  InsufficientFunds,
  BalanceLimitExceeded,
  OverdraftLimitViolated,
  BalanceNotZero,
  TransfersPending,
  TransferNotDebited,
  TransferAlreadySettled,
  TransferAlreadyRefunded,
  TransferMismatch
])
export type AccountRejection = typeof AccountRejection.Type
