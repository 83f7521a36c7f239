/**
 * Sample stored events for the published-contract suites: one of every stored account and transfer event
 * type (current domain events, written with the ledger's codecs) and a `SubjectForgotten` as the store
 * records it, with the published types each must map to. Values are fixed, so their wire form is the one
 * the golden fixtures hold (contract/<category>/<Type>.v<N>.json).
 */
import { Account, Ids, Money, Text, Timestamp, type Transfer } from "@verity/domain"
import { Checkpoint, EventId, type NewEvent, PersonalData, type RecordedEvent } from "@verity/eventstore"
import { accountCodec, transferCodec } from "../../../src/Streams.ts"

export const accountId = Ids.AccountId.make("5a1e7c2e-9f3b-4c1d-8e2a-0b6f4d3c2a11")
export const otherAccountId = Ids.AccountId.make("7c3d9e4f-1a2b-4c5d-9e6f-3a4b5c6d7e22")
export const transferId = Ids.TransferId.make("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c33")
export const holderName = Account.HolderName.make("Ada Plaintext Lovelace")
export const holderEmail = Account.HolderEmail.make("ada.plaintext@example.com")
export const newHolderName = Account.HolderName.make("Ada Renamed Byron")
export const newHolderEmail = Account.HolderEmail.make("ada.renamed@example.org")
/** Every personal value the samples hold: none may appear in anything published. */
export const secrets: ReadonlyArray<string> = [holderName, holderEmail, newHolderName, newHolderEmail]

const EUR = Money.Currency.make("EUR")
const amount = Money.Amount.make(12_50)
const at = (minutes: number) => Timestamp.fromEpochMillis(Date.UTC(2026, 0, 20, 10) + minutes * 60_000)
const reason = (text: string) => Text.Reason.make(text)

/** One sample per stored account event type (in the domain union's order), with what it publishes. */
export const accountSamples: ReadonlyArray<{ readonly event: Account.AccountEvent; readonly publishes: ReadonlyArray<string> }> = [
  {
    event: { _tag: "AccountOpened", accountId, holderName, holderEmail, currency: EUR, at: at(0) },
    publishes: ["AccountOpened"]
  },
  { event: { _tag: "MoneyDeposited", accountId, amount, currency: EUR, at: at(1) }, publishes: ["MoneyDeposited"] },
  { event: { _tag: "MoneyWithdrawn", accountId, amount, currency: EUR, at: at(2) }, publishes: ["MoneyWithdrawn"] },
  {
    event: { _tag: "OverdraftLimitSet", accountId, limit: Money.OverdraftLimit.make(500_00), at: at(3) },
    publishes: ["OverdraftLimitSet"]
  },
  {
    event: { _tag: "HolderDetailsUpdated", accountId, holderName: newHolderName, holderEmail: newHolderEmail, at: at(4) },
    publishes: []
  },
  {
    event: { _tag: "AccountFrozen", accountId, reason: reason("Ada Plaintext Lovelace called about fraud"), at: at(5) },
    publishes: ["AccountStatusChanged"]
  },
  { event: { _tag: "AccountUnfrozen", accountId, at: at(6) }, publishes: ["AccountStatusChanged"] },
  {
    event: { _tag: "MoneyDebitedForTransfer", accountId, transferId, toAccountId: otherAccountId, amount, at: at(7) },
    publishes: ["TransferDebited"]
  },
  {
    event: { _tag: "MoneyRefundedForTransfer", accountId, transferId, amount, at: at(8) },
    publishes: ["TransferRefunded"]
  },
  {
    event: { _tag: "MoneyCreditedForTransfer", accountId, transferId, fromAccountId: otherAccountId, amount, at: at(9) },
    publishes: ["TransferCredited"]
  },
  { event: { _tag: "TransferDebitSettled", accountId, transferId, at: at(10) }, publishes: [] },
  { event: { _tag: "AccountClosed", accountId, at: at(11) }, publishes: ["AccountStatusChanged"] }
]

/** One sample per stored transfer event type, with what it publishes. */
export const transferSamples: ReadonlyArray<{ readonly event: Transfer.TransferEvent; readonly publishes: ReadonlyArray<string> }> = [
  {
    event: { _tag: "TransferRequested", transferId, fromAccountId: accountId, toAccountId: otherAccountId, amount, currency: EUR, at: at(20) },
    publishes: ["TransferRequested"]
  },
  { event: { _tag: "SourceAccountDebited", transferId, at: at(21) }, publishes: [] },
  { event: { _tag: "SourceDebitRejected", transferId, reason: reason("InsufficientFunds"), at: at(21) }, publishes: ["TransferRejected"] },
  { event: { _tag: "TargetAccountCredited", transferId, at: at(22) }, publishes: [] },
  { event: { _tag: "TargetCreditRejected", transferId, reason: reason("AccountClosed"), at: at(22) }, publishes: ["TransferRejected"] },
  { event: { _tag: "SourceAccountRefunded", transferId, at: at(23) }, publishes: ["TransferFailedAndRefunded"] },
  { event: { _tag: "TransferCompleted", transferId, at: at(24) }, publishes: ["TransferCompleted"] }
]

/** The data of a `SubjectForgotten` as `PersonalData.forget` records it. */
export const erasureData: PersonalData.SubjectForgottenData = {
  subjectId: accountId,
  reason: "GDPR art. 17 request #42",
  requestedBy: "dpo Grace Plaintext",
  forgottenAt: "2026-01-21T09:30:00.000Z",
  streams: [`account-${accountId}`]
}

export const accountStream = `account-${accountId}`
export const transferStream = `transfer-${transferId}`
export const erasureStream = `${PersonalData.ERASURE_CATEGORY}-${accountId}`

/** The samples as events to append, per stream, in order. */
export const writes: ReadonlyArray<{ readonly stream: string; readonly events: ReadonlyArray<NewEvent> }> = [
  { stream: accountStream, events: accountSamples.map(({ event }) => ({ eventId: EventId.make(), ...accountCodec.encode(event) })) },
  { stream: transferStream, events: transferSamples.map(({ event }) => ({ eventId: EventId.make(), ...transferCodec.encode(event) })) },
  {
    stream: erasureStream,
    events: [{ eventId: EventId.make(), type: PersonalData.ERASURE_EVENT, data: erasureData, metadata: { actor: erasureData.requestedBy } }]
  }
]

/** What each stored sample publishes, by stream and stored type. */
export const expectedTypes: ReadonlyArray<{ readonly stream: string; readonly type: string; readonly publishes: ReadonlyArray<string> }> = [
  ...accountSamples.map(({ event, publishes }) => ({ stream: accountStream, type: event._tag, publishes })),
  ...transferSamples.map(({ event, publishes }) => ({ stream: transferStream, type: event._tag, publishes })),
  { stream: erasureStream, type: PersonalData.ERASURE_EVENT, publishes: ["SubjectForgotten"] }
]

/** A stored event as a store would hand it out (for mapping without a store). */
export const recorded = (stream: string, version: number, event: NewEvent): RecordedEvent => ({
  streamId: stream,
  version,
  position: BigInt(version),
  transactionId: 1n,
  checkpoint: Checkpoint.make(1n, BigInt(version)),
  eventId: event.eventId,
  type: event.type,
  schemaVersion: event.schemaVersion ?? 1,
  data: JSON.parse(JSON.stringify(event.data)),
  metadata: event.metadata ?? {},
  recordedAt: new Date(0)
})

/** Every sample as a recorded event, in order. */
export const recordedSamples: ReadonlyArray<RecordedEvent> = writes.flatMap(({ stream, events }) =>
  events.map((event, index) => recorded(stream, index + 1, event))
)
