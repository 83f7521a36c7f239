/**
 * Transfer events: THE STORED CONTRACT of the transfer saga's own stream. Every event is persisted under
 * its `_tag` with the version in `TransferEventVersions`. Never rename or reshape an event in place: a
 * change is a new schema, a version bump, an upcaster from the old shape (Upcasters.ts) and a golden
 * fixture of the new version (golden/transfer/).
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Currency } from "../Money.ts"
import { Reason } from "../Text.ts"
import { Timestamp } from "../Timestamp.ts"

export const TransferRequested = Schema.TaggedStruct("TransferRequested", {
  transferId: TransferId,
  fromAccountId: AccountId,
  toAccountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type TransferRequested = typeof TransferRequested.Type

/** The source account accepted the debit. */
export const SourceAccountDebited = Schema.TaggedStruct("SourceAccountDebited", {
  transferId: TransferId,
  at: Timestamp
})
export type SourceAccountDebited = typeof SourceAccountDebited.Type

/** The source account rejected the debit: the transfer failed, nothing to compensate. */
export const SourceDebitRejected = Schema.TaggedStruct("SourceDebitRejected", {
  transferId: TransferId,
  reason: Reason,
  at: Timestamp
})
export type SourceDebitRejected = typeof SourceDebitRejected.Type

/** The target account accepted the credit. */
export const TargetAccountCredited = Schema.TaggedStruct("TargetAccountCredited", {
  transferId: TransferId,
  at: Timestamp
})
export type TargetAccountCredited = typeof TargetAccountCredited.Type

/** The target account rejected the credit: the debit must be refunded to the source. */
export const TargetCreditRejected = Schema.TaggedStruct("TargetCreditRejected", {
  transferId: TransferId,
  reason: Reason,
  at: Timestamp
})
export type TargetCreditRejected = typeof TargetCreditRejected.Type

/** The compensation: the source account got its money back. The transfer has failed. */
export const SourceAccountRefunded = Schema.TaggedStruct("SourceAccountRefunded", {
  transferId: TransferId,
  at: Timestamp
})
export type SourceAccountRefunded = typeof SourceAccountRefunded.Type

/** The source account settled the debit: the transfer is done. */
export const TransferCompleted = Schema.TaggedStruct("TransferCompleted", {
  transferId: TransferId,
  at: Timestamp
})
export type TransferCompleted = typeof TransferCompleted.Type

export const TransferEvent = Schema.Union([
  TransferRequested,
  SourceAccountDebited,
  SourceDebitRejected,
  TargetAccountCredited,
  TargetCreditRejected,
  SourceAccountRefunded,
  TransferCompleted
]).pipe(Schema.toTaggedUnion("_tag"))
export type TransferEvent = typeof TransferEvent.Type

/** The CURRENT schema version of each stored event type (stored next to the tag): all still at 1. */
export const TransferEventVersions = {
  TransferRequested: 1,
  SourceAccountDebited: 1,
  SourceDebitRejected: 1,
  TargetAccountCredited: 1,
  TargetCreditRejected: 1,
  SourceAccountRefunded: 1,
  TransferCompleted: 1
} as const satisfies Record<TransferEvent["_tag"], number>
