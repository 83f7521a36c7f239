/**
 * Account commands: what callers ask of one account. Every command names its account and carries the
 * business time `at`; transfer steps carry the `transferId`, which makes them safe to repeat.
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Currency, OverdraftLimit } from "../Money.ts"
import { Reason } from "../Text.ts"
import { Timestamp } from "../Timestamp.ts"
import { HolderEmail, HolderName } from "./Holder.ts"

export const OpenAccount = Schema.TaggedStruct("OpenAccount", {
  accountId: AccountId,
  holderName: HolderName,
  holderEmail: HolderEmail,
  currency: Currency,
  at: Timestamp
})
export type OpenAccount = typeof OpenAccount.Type

export const Deposit = Schema.TaggedStruct("Deposit", {
  accountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type Deposit = typeof Deposit.Type

export const Withdraw = Schema.TaggedStruct("Withdraw", {
  accountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type Withdraw = typeof Withdraw.Type

export const SetOverdraftLimit = Schema.TaggedStruct("SetOverdraftLimit", {
  accountId: AccountId,
  limit: OverdraftLimit,
  at: Timestamp
})
export type SetOverdraftLimit = typeof SetOverdraftLimit.Type

export const UpdateHolderDetails = Schema.TaggedStruct("UpdateHolderDetails", {
  accountId: AccountId,
  holderName: HolderName,
  holderEmail: HolderEmail,
  at: Timestamp
})
export type UpdateHolderDetails = typeof UpdateHolderDetails.Type

export const FreezeAccount = Schema.TaggedStruct("FreezeAccount", {
  accountId: AccountId,
  reason: Reason,
  at: Timestamp
})
export type FreezeAccount = typeof FreezeAccount.Type

export const UnfreezeAccount = Schema.TaggedStruct("UnfreezeAccount", {
  accountId: AccountId,
  at: Timestamp
})
export type UnfreezeAccount = typeof UnfreezeAccount.Type

export const CloseAccount = Schema.TaggedStruct("CloseAccount", {
  accountId: AccountId,
  at: Timestamp
})
export type CloseAccount = typeof CloseAccount.Type

/** Transfer step on the source account: take the money out (sent by the transfer process manager). */
export const DebitForTransfer = Schema.TaggedStruct("DebitForTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  toAccountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type DebitForTransfer = typeof DebitForTransfer.Type

/** Transfer step on the target account: put the money in. */
export const CreditForTransfer = Schema.TaggedStruct("CreditForTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  fromAccountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type CreditForTransfer = typeof CreditForTransfer.Type

/** Compensation on the source account after the credit was rejected: give the debited money back. */
export const RefundTransfer = Schema.TaggedStruct("RefundTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  at: Timestamp
})
export type RefundTransfer = typeof RefundTransfer.Type

/** Final step on the source account after the credit succeeded: the debit is no longer refundable. */
export const SettleTransfer = Schema.TaggedStruct("SettleTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  at: Timestamp
})
export type SettleTransfer = typeof SettleTransfer.Type

export const AccountCommand = Schema.Union([
  OpenAccount,
  Deposit,
  Withdraw,
  SetOverdraftLimit,
  UpdateHolderDetails,
  FreezeAccount,
  UnfreezeAccount,
  CloseAccount,
  DebitForTransfer,
  CreditForTransfer,
  RefundTransfer,
  SettleTransfer
]).pipe(Schema.toTaggedUnion("_tag"))
export type AccountCommand = typeof AccountCommand.Type
