/**
 * The published contract of category `transfer`: a transfer's request and its outcome. The saga's
 * intermediate steps (`SourceAccountDebited`, `TargetAccountCredited`) are not published: the money they
 * stand for is published by the accounts (`TransferDebited`, `TransferCredited`). Failure reasons are the
 * account's rejection tags (e.g. `InsufficientFunds`), never free text.
 *
 * Changing a published event's shape means a new version here, a new golden fixture
 * (contract/transfer/<Type>.v<N>.json) next to the old ones, and subscribers told: see the README.
 */
import { Transfer } from "@verity/domain"
import { Contract } from "@verity/integration"
import { DateTime, Schema } from "effect"
import { TRANSFER_CATEGORY, transferCodec } from "../Streams.ts"
import { fromCodec, type Mapping, storedTypes } from "./Mapping.ts"
import { Currency, Id, Instant, MinorUnits } from "./Wire.ts"

export const TransferRequested = Schema.TaggedStruct("TransferRequested", {
  transferId: Id,
  fromAccountId: Id,
  toAccountId: Id,
  amount: MinorUnits,
  currency: Currency,
  occurredAt: Instant
})
/** The money reached the target account and the source's debit is settled. */
export const TransferCompleted = Schema.TaggedStruct("TransferCompleted", { transferId: Id, occurredAt: Instant })
/**
 * An account rejected its step: at `SourceDebit` the transfer failed with nothing to undo; at
 * `TargetCredit` the source is refunded next (`TransferFailedAndRefunded`).
 */
export const TransferRejected = Schema.TaggedStruct("TransferRejected", {
  transferId: Id,
  step: Schema.Literals(["SourceDebit", "TargetCredit"]),
  reason: Schema.String,
  occurredAt: Instant
})
/** The compensation after a rejected credit: the source account got its money back; the transfer failed. */
export const TransferFailedAndRefunded = Schema.TaggedStruct("TransferFailedAndRefunded", { transferId: Id, occurredAt: Instant })

export const TransferIntegrationEvent = Schema.Union([
  TransferRequested,
  TransferCompleted,
  TransferRejected,
  TransferFailedAndRefunded
])
export type TransferIntegrationEvent = typeof TransferIntegrationEvent.Type

/** The published version of each type. Bump it with every change of shape (and add its fixture). */
export const versions = {
  TransferRequested: 1,
  TransferCompleted: 1,
  TransferRejected: 1,
  TransferFailedAndRefunded: 1
} as const satisfies Record<TransferIntegrationEvent["_tag"], number>

const instant = (at: number) => DateTime.makeUnsafe(at)

/** Every stored transfer event type: its published event, or `null` (not published, with the reason). */
export const mapping: Mapping<Transfer.TransferEvent, TransferIntegrationEvent> = {
  TransferRequested: (e) =>
    TransferRequested.make({
      transferId: e.transferId,
      fromAccountId: e.fromAccountId,
      toAccountId: e.toAccountId,
      amount: e.amount,
      currency: e.currency,
      occurredAt: instant(e.at)
    }),
  // Intermediate step: the source account publishes the debit itself.
  SourceAccountDebited: null,
  SourceDebitRejected: (e) => TransferRejected.make({ transferId: e.transferId, step: "SourceDebit", reason: e.reason, occurredAt: instant(e.at) }),
  // Intermediate step: the target account publishes the credit itself.
  TargetAccountCredited: null,
  TargetCreditRejected: (e) => TransferRejected.make({ transferId: e.transferId, step: "TargetCredit", reason: e.reason, occurredAt: instant(e.at) }),
  SourceAccountRefunded: (e) => TransferFailedAndRefunded.make({ transferId: e.transferId, occurredAt: instant(e.at) }),
  TransferCompleted: (e) => TransferCompleted.make({ transferId: e.transferId, occurredAt: instant(e.at) })
}

export const contract = Contract.make({
  category: TRANSFER_CATEGORY,
  storedTypes: storedTypes(mapping, Transfer.upcasters),
  schema: TransferIntegrationEvent,
  versions,
  map: fromCodec(TRANSFER_CATEGORY, transferCodec, mapping)
})
