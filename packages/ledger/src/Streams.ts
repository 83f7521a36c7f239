/**
 * The ledger bound to the event store: which stream category each aggregate lives in, the codecs (current
 * schema versions plus the upcaster chains of their history), snapshot policies, and the personal-data
 * fields to encrypt. Everything that reads or writes ledger streams goes through these bindings.
 */
import { Account, Transfer } from "@verity/domain"
import { CommandHandler, EventCodec, PersonalFields } from "@verity/eventstore"

export const ACCOUNT_CATEGORY = "account"
export const TRANSFER_CATEGORY = "transfer"

export const accountCodec = EventCodec.make({
  schema: Account.AccountEvent,
  versions: Account.AccountEventVersions,
  upcasters: Account.upcasters
})

export const transferCodec = EventCodec.make({
  schema: Transfer.TransferEvent,
  versions: Transfer.TransferEventVersions,
  upcasters: Transfer.upcasters
})

/** The cached copy of an account state never holds the holder's name or email. */
const withoutHolder = (state: Account.AccountState): Account.AccountState =>
  state.status === "Open"
    ? { ...state, holderName: Account.ErasedHolderName, holderEmail: Account.ErasedHolderEmail }
    : state

/**
 * Account commands: queued and batched per account, decided on the committed state this process last
 * wrote (cached without personal data: opening and holder updates, which compare holder details, load the
 * stream), appended at that version. Snapshots every 100 events.
 */
export const Accounts = CommandHandler.make({
  category: ACCOUNT_CATEGORY,
  decider: Account.decider,
  codec: accountCodec,
  // Bump the key whenever AccountState or Account.evolve changes: older snapshots are then ignored.
  snapshot: { key: "account-state-v1", schema: Account.AccountState, every: 100 },
  cache: {
    capacity: 50_000,
    redact: withoutHolder,
    bypass: (command) => command._tag === "OpenAccount" || command._tag === "UpdateHolderDetails"
  }
})

export const Transfers = CommandHandler.make({
  category: TRANSFER_CATEGORY,
  decider: Transfer.decider,
  codec: transferCodec
})

/**
 * The stored event types a reader of some current account event types must subscribe to: those types,
 * plus every older or retired type an upcaster starts from, since it may read as one of them (e.g.
 * `FundsWithdrawn` reads as `MoneyWithdrawn`, `AccountOpenedWithDeposit` as an opening and a deposit).
 */
export const storedAccountTypes = (current: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set([...current, ...Account.upcasters.map((upcaster) => upcaster.type)])
]

/** The fields encrypted per data subject (the account holder's name and email). */
export const personalFields = PersonalFields.fromSchemas(Account.AccountEvent, Transfer.TransferEvent)
