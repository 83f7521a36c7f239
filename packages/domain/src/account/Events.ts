/**
 * Account events: THE STORED CONTRACT. Every event below is persisted under its `_tag` with the version in
 * `AccountEventVersions`; the schemas here are the CURRENT versions. Never rename or reshape an event in
 * place: a change is a new schema here, a version bump below, an upcaster from the previous stored shape
 * (Upcasters.ts, which also writes the retired shapes down) and a golden fixture of the new version
 * (golden/account/). Holder name and email fields carry the personal-data annotation (see Holder.ts).
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Currency, OverdraftLimit } from "../Money.ts"
import { Reason } from "../Text.ts"
import { Timestamp } from "../Timestamp.ts"
import { HolderEmailField, HolderNameField } from "./Holder.ts"

/** v2: holder details under their own names, and the account's currency (v1: `owner`, `email`, EUR only). */
export const AccountOpened = Schema.TaggedStruct("AccountOpened", {
  accountId: AccountId,
  holderName: HolderNameField,
  holderEmail: HolderEmailField,
  currency: Currency,
  at: Timestamp
})
export type AccountOpened = typeof AccountOpened.Type

/** v2: integer minor units in the account's currency (v1 held decimal euros: see Upcasters.ts). */
export const MoneyDeposited = Schema.TaggedStruct("MoneyDeposited", {
  accountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type MoneyDeposited = typeof MoneyDeposited.Type

/** v2: integer minor units in the account's currency (v1 was `FundsWithdrawn`, decimal euros: see Upcasters.ts). */
export const MoneyWithdrawn = Schema.TaggedStruct("MoneyWithdrawn", {
  accountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type MoneyWithdrawn = typeof MoneyWithdrawn.Type

export const OverdraftLimitSet = Schema.TaggedStruct("OverdraftLimitSet", {
  accountId: AccountId,
  limit: OverdraftLimit,
  at: Timestamp
})
export type OverdraftLimitSet = typeof OverdraftLimitSet.Type

export const HolderDetailsUpdated = Schema.TaggedStruct("HolderDetailsUpdated", {
  accountId: AccountId,
  holderName: HolderNameField,
  holderEmail: HolderEmailField,
  at: Timestamp
})
export type HolderDetailsUpdated = typeof HolderDetailsUpdated.Type

export const AccountFrozen = Schema.TaggedStruct("AccountFrozen", {
  accountId: AccountId,
  reason: Reason,
  at: Timestamp
})
export type AccountFrozen = typeof AccountFrozen.Type

export const AccountUnfrozen = Schema.TaggedStruct("AccountUnfrozen", {
  accountId: AccountId,
  at: Timestamp
})
export type AccountUnfrozen = typeof AccountUnfrozen.Type

export const AccountClosed = Schema.TaggedStruct("AccountClosed", {
  accountId: AccountId,
  at: Timestamp
})
export type AccountClosed = typeof AccountClosed.Type

/** Money left this account for a transfer; it stays refundable until the transfer settles. */
export const MoneyDebitedForTransfer = Schema.TaggedStruct("MoneyDebitedForTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  toAccountId: AccountId,
  amount: Amount,
  at: Timestamp
})
export type MoneyDebitedForTransfer = typeof MoneyDebitedForTransfer.Type

/** Money arrived on this account from a transfer. */
export const MoneyCreditedForTransfer = Schema.TaggedStruct("MoneyCreditedForTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  fromAccountId: AccountId,
  amount: Amount,
  at: Timestamp
})
export type MoneyCreditedForTransfer = typeof MoneyCreditedForTransfer.Type

/** A transfer debited from this account failed further on: the debit came back. */
export const MoneyRefundedForTransfer = Schema.TaggedStruct("MoneyRefundedForTransfer", {
  accountId: AccountId,
  transferId: TransferId,
  amount: Amount,
  at: Timestamp
})
export type MoneyRefundedForTransfer = typeof MoneyRefundedForTransfer.Type

/** A transfer debited from this account completed: the debit can no longer be refunded. */
export const TransferDebitSettled = Schema.TaggedStruct("TransferDebitSettled", {
  accountId: AccountId,
  transferId: TransferId,
  at: Timestamp
})
export type TransferDebitSettled = typeof TransferDebitSettled.Type

export const AccountEvent = Schema.Union([
  AccountOpened,
  MoneyDeposited,
  MoneyWithdrawn,
  OverdraftLimitSet,
  HolderDetailsUpdated,
  AccountFrozen,
  AccountUnfrozen,
  AccountClosed,
  MoneyDebitedForTransfer,
  MoneyCreditedForTransfer,
  MoneyRefundedForTransfer,
  TransferDebitSettled
]).pipe(Schema.toTaggedUnion("_tag"))
export type AccountEvent = typeof AccountEvent.Type

/**
 * The CURRENT schema version of each event type (stored next to the tag; new events are written at it).
 * Older stored versions, and the retired types `FundsWithdrawn` and `AccountOpenedWithDeposit` (absent
 * here: nothing is written under them any more), reach these versions through `upcasters`.
 */
export const AccountEventVersions = {
  AccountOpened: 2,
  MoneyDeposited: 2,
  MoneyWithdrawn: 2,
  OverdraftLimitSet: 1,
  HolderDetailsUpdated: 1,
  AccountFrozen: 1,
  AccountUnfrozen: 1,
  AccountClosed: 1,
  MoneyDebitedForTransfer: 1,
  MoneyCreditedForTransfer: 1,
  MoneyRefundedForTransfer: 1,
  TransferDebitSettled: 1
} as const satisfies Record<AccountEvent["_tag"], number>
