/**
 * The published contract of category `account`: what other services may rely on about accounts. No
 * personal data leaves: the holder's name and email (annotated personal in the domain) are never mapped,
 * `HolderDetailsUpdated` is not published at all, and a freeze's free-text reason stays inside. Balances are
 * not published: a stored event carries the change, not the balance after it.
 *
 * Changing a published event's shape means a new version here (`versions`), a new golden fixture
 * (contract/account/<Type>.v<N>.json) next to the old ones, and subscribers told: see the README.
 */
import { Account } from "@verity/domain"
import { Contract } from "@verity/integration"
import { DateTime, Schema } from "effect"
import { ACCOUNT_CATEGORY, accountCodec } from "../Streams.ts"
import { fromCodec, type Mapping, storedTypes } from "./Mapping.ts"
import { Currency, Id, Instant, MinorUnits } from "./Wire.ts"

export const AccountOpened = Schema.TaggedStruct("AccountOpened", { accountId: Id, currency: Currency, occurredAt: Instant })
export const MoneyDeposited = Schema.TaggedStruct("MoneyDeposited", {
  accountId: Id,
  amount: MinorUnits,
  currency: Currency,
  occurredAt: Instant
})
export const MoneyWithdrawn = Schema.TaggedStruct("MoneyWithdrawn", {
  accountId: Id,
  amount: MinorUnits,
  currency: Currency,
  occurredAt: Instant
})
export const OverdraftLimitSet = Schema.TaggedStruct("OverdraftLimitSet", { accountId: Id, limit: MinorUnits, occurredAt: Instant })
/** The account status after a freeze, an unfreeze or a closure. */
export const AccountStatusChanged = Schema.TaggedStruct("AccountStatusChanged", {
  accountId: Id,
  status: Schema.Literals(["Frozen", "Open", "Closed"]),
  occurredAt: Instant
})
/** Money left the account for a transfer (in the transfer's currency: see `TransferRequested`). */
export const TransferDebited = Schema.TaggedStruct("TransferDebited", {
  accountId: Id,
  transferId: Id,
  toAccountId: Id,
  amount: MinorUnits,
  occurredAt: Instant
})
/** Money arrived on the account from a transfer. */
export const TransferCredited = Schema.TaggedStruct("TransferCredited", {
  accountId: Id,
  transferId: Id,
  fromAccountId: Id,
  amount: MinorUnits,
  occurredAt: Instant
})
/** A transfer debited from the account failed further on: the money came back. */
export const TransferRefunded = Schema.TaggedStruct("TransferRefunded", {
  accountId: Id,
  transferId: Id,
  amount: MinorUnits,
  occurredAt: Instant
})

export const AccountIntegrationEvent = Schema.Union([
  AccountOpened,
  MoneyDeposited,
  MoneyWithdrawn,
  OverdraftLimitSet,
  AccountStatusChanged,
  TransferDebited,
  TransferCredited,
  TransferRefunded
])
export type AccountIntegrationEvent = typeof AccountIntegrationEvent.Type

/** The published version of each type. Bump it with every change of shape (and add its fixture). */
export const versions = {
  AccountOpened: 1,
  MoneyDeposited: 1,
  MoneyWithdrawn: 1,
  OverdraftLimitSet: 1,
  AccountStatusChanged: 1,
  TransferDebited: 1,
  TransferCredited: 1,
  TransferRefunded: 1
} as const satisfies Record<AccountIntegrationEvent["_tag"], number>

const instant = (at: number) => DateTime.makeUnsafe(at)

/** Every stored account event type: its published event, or `null` (not published, with the reason). */
export const mapping: Mapping<Account.AccountEvent, AccountIntegrationEvent> = {
  AccountOpened: (e) => AccountOpened.make({ accountId: e.accountId, currency: e.currency, occurredAt: instant(e.at) }),
  MoneyDeposited: (e) => MoneyDeposited.make({ accountId: e.accountId, amount: e.amount, currency: e.currency, occurredAt: instant(e.at) }),
  MoneyWithdrawn: (e) => MoneyWithdrawn.make({ accountId: e.accountId, amount: e.amount, currency: e.currency, occurredAt: instant(e.at) }),
  OverdraftLimitSet: (e) => OverdraftLimitSet.make({ accountId: e.accountId, limit: e.limit, occurredAt: instant(e.at) }),
  // Holds nothing but the holder's personal data.
  HolderDetailsUpdated: null,
  // The reason is free text written by an operator: it may hold anything, so only the status leaves.
  AccountFrozen: (e) => AccountStatusChanged.make({ accountId: e.accountId, status: "Frozen", occurredAt: instant(e.at) }),
  AccountUnfrozen: (e) => AccountStatusChanged.make({ accountId: e.accountId, status: "Open", occurredAt: instant(e.at) }),
  AccountClosed: (e) => AccountStatusChanged.make({ accountId: e.accountId, status: "Closed", occurredAt: instant(e.at) }),
  MoneyDebitedForTransfer: (e) =>
    TransferDebited.make({
      accountId: e.accountId,
      transferId: e.transferId,
      toAccountId: e.toAccountId,
      amount: e.amount,
      occurredAt: instant(e.at)
    }),
  MoneyCreditedForTransfer: (e) =>
    TransferCredited.make({
      accountId: e.accountId,
      transferId: e.transferId,
      fromAccountId: e.fromAccountId,
      amount: e.amount,
      occurredAt: instant(e.at)
    }),
  MoneyRefundedForTransfer: (e) =>
    TransferRefunded.make({ accountId: e.accountId, transferId: e.transferId, amount: e.amount, occurredAt: instant(e.at) }),
  // Saga bookkeeping (the debit can no longer be refunded): the transfer's `TransferCompleted` says it.
  TransferDebitSettled: null
}

export const contract = Contract.make({
  category: ACCOUNT_CATEGORY,
  storedTypes: storedTypes(mapping, Account.upcasters),
  schema: AccountIntegrationEvent,
  versions,
  map: fromCodec(ACCOUNT_CATEGORY, accountCodec, mapping)
})
