/**
 * Generators derived from the domain schemas. Values come from `Arbitrary.schema(...)` of the command and
 * event schemas; ids, currencies and (mostly) amounts are then redrawn from small pools so that generated
 * commands actually meet the same accounts and transfers, and money moves often enough to matter.
 */
import { Arbitrary, Schema } from "effect"
import * as Account from "../../src/Account.ts"
import { AccountId, TransferId } from "../../src/Ids.ts"
import { Amount, Currency, OverdraftLimit } from "../../src/Money.ts"
import { Timestamp } from "../../src/Timestamp.ts"
import * as Transfer from "../../src/Transfer.ts"
import type { StoredPayload } from "../../src/Upcaster.ts"

export const accountIds: ReadonlyArray<AccountId> = [
  AccountId.make("0a000000-0000-4000-8000-000000000001"),
  AccountId.make("0a000000-0000-4000-8000-000000000002"),
  AccountId.make("0a000000-0000-4000-8000-000000000003")
]
export const transferIds: ReadonlyArray<TransferId> = [
  TransferId.make("07000000-0000-4000-8000-000000000001"),
  TransferId.make("07000000-0000-4000-8000-000000000002"),
  TransferId.make("07000000-0000-4000-8000-000000000003"),
  TransferId.make("07000000-0000-4000-8000-000000000004")
]
export const currencies: ReadonlyArray<Currency> = [Currency.make("EUR"), Currency.make("USD")]
export const holders = [
  { holderName: Account.HolderName.make("Ada Lovelace"), holderEmail: Account.HolderEmail.make("ada@example.com") },
  { holderName: Account.HolderName.make("Alan Turing"), holderEmail: Account.HolderEmail.make("alan@example.org") }
] as const

/** One element of a non-empty pool (shrinks towards the first). */
export const pick = <A>(pool: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: pool.length - 1 }))).pipe(
    Arbitrary.map((index) => pool[index] as A)
  )

/** One of several generators, chosen uniformly (repeat an argument to weight it). */
export const oneOf = <A>(...arbitraries: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  pick(arbitraries).pipe(Arbitrary.flatMap((arbitrary) => arbitrary))

const smallAmount = Arbitrary.schema(Amount.check(Schema.isLessThanOrEqualTo(1_000)))
/** Mostly small amounts (so balances and overdrafts interact), sometimes anything up to MaxAmount. */
export const amount: Arbitrary.Arbitrary<Amount> = oneOf(smallAmount, smallAmount, smallAmount, Arbitrary.schema(Amount))
const limit: Arbitrary.Arbitrary<OverdraftLimit> = oneOf(
  Arbitrary.schema(OverdraftLimit.check(Schema.isLessThanOrEqualTo(1_000))),
  Arbitrary.schema(OverdraftLimit)
)

/** Mostly the first pooled currency, so that most operations meet their account's currency. */
const currency: Arbitrary.Arbitrary<Currency> = oneOf(
  Arbitrary.Constant(currencies[0] as Currency),
  Arbitrary.Constant(currencies[0] as Currency),
  Arbitrary.Constant(currencies[0] as Currency),
  pick(currencies),
  Arbitrary.schema(Currency)
)

const targets = Arbitrary.all({
  accountId: pick(accountIds),
  counterparty: pick(accountIds),
  transferId: pick(transferIds),
  currency: currency,
  amount,
  limit,
  holder: oneOf(pick(holders), pick(holders), Arbitrary.Constant(undefined))
})
type Targets = typeof targets extends Arbitrary.Arbitrary<infer T> ? T : never

/** Redraws the pooled fields of any account command or event (the shape stays schema-valid). */
const retarget = (value: object, t: Targets): Record<string, unknown> => {
  const patched: Record<string, unknown> = { ...value, accountId: t.accountId }
  if ("transferId" in value) patched.transferId = t.transferId
  if ("toAccountId" in value) patched.toAccountId = t.counterparty
  if ("fromAccountId" in value) patched.fromAccountId = t.counterparty
  if ("currency" in value) patched.currency = t.currency
  if ("amount" in value) patched.amount = t.amount
  if ("limit" in value) patched.limit = t.limit
  if ("holderName" in value && t.holder !== undefined) {
    patched.holderName = t.holder.holderName
    patched.holderEmail = t.holder.holderEmail
  }
  return patched
}

const decodeAccountCommand = Schema.decodeUnknownSync(Account.AccountCommand)
const decodeAccountEvent = Schema.decodeUnknownSync(Account.AccountEvent)

const commandFrom = <A extends Account.AccountCommand>(schema: Schema.Schema<A>, fixed: Partial<Targets> = {}) =>
  Arbitrary.all({ command: Arbitrary.schema(schema), targets }).pipe(
    Arbitrary.map(({ command, targets }) => decodeAccountCommand(retarget(command, { ...targets, ...fixed })) as A)
  )

/** Any account command, on a pooled account. */
export const accountCommand: Arbitrary.Arbitrary<Account.AccountCommand> = commandFrom(Account.AccountCommand)

/** Transfer steps only (debit, credit, refund, settle), on pooled accounts and transfers. */
const transferStep = commandFrom(
  Schema.Union([Account.DebitForTransfer, Account.CreditForTransfer, Account.RefundTransfer, Account.SettleTransfer])
)

/** A transfer's account steps in order: debit, maybe the matching credit, then a refund or a settle. */
const transferEpisode: Arbitrary.Arbitrary<ReadonlyArray<Account.AccountCommand>> = Arbitrary.all({
  debit: commandFrom(Account.DebitForTransfer),
  credit: commandFrom(Account.CreditForTransfer),
  end: commandFrom(Schema.Union([Account.RefundTransfer, Account.SettleTransfer])),
  withCredit: Arbitrary.schema(Schema.Boolean)
}).pipe(Arbitrary.map(({ debit, credit, end, withCredit }) => {
  const { accountId, transferId, toAccountId, amount, currency } = debit
  const matchingCredit = { ...credit, accountId: toAccountId, transferId, fromAccountId: accountId, amount, currency }
  return [debit, ...(withCredit ? [matchingCredit] : []), { ...end, accountId, transferId }]
}))

const single = <A>(arbitrary: Arbitrary.Arbitrary<A>) => arbitrary.pipe(Arbitrary.map((a) => [a]))

/**
 * Sequences that open every pooled account (the first two in the main currency), then mix every command
 * kind: any command, with deposits, transfer steps and whole transfer episodes weighted up so that money
 * moves and transfers are revisited.
 */
export const accountCommands: Arbitrary.Arbitrary<ReadonlyArray<Account.AccountCommand>> = Arbitrary.all({
  opening: Arbitrary.all(
    accountIds.map((accountId, index) =>
      commandFrom(Account.OpenAccount, index < 2 ? { accountId, currency: currencies[0] as Currency } : { accountId })
    )
  ),
  rest: Arbitrary.array(
    oneOf<ReadonlyArray<Account.AccountCommand>>(
      single(accountCommand),
      single(accountCommand),
      single(commandFrom(Account.Deposit)),
      single(commandFrom(Account.Deposit)),
      single(transferStep),
      transferEpisode
    ),
    { minLength: 5, maxLength: 60 }
  )
}).pipe(Arbitrary.map(({ opening, rest }) => [...opening, ...rest.flat()]))

/** Any account event (not necessarily one `decide` would produce), on a pooled account. */
export const accountEvent: Arbitrary.Arbitrary<Account.AccountEvent> = Arbitrary.all({
  event: Arbitrary.schema(Account.AccountEvent),
  targets
}).pipe(Arbitrary.map(({ event, targets }) => decodeAccountEvent(retarget(event, targets))))

// --- transfers -------------------------------------------------------------------------------------

const transferTargets = Arbitrary.all({
  transferId: pick(transferIds.slice(0, 2)),
  fromAccountId: pick(accountIds),
  toAccountId: pick(accountIds),
  currency: pick(currencies),
  amount
})
type TransferTargets = typeof transferTargets extends Arbitrary.Arbitrary<infer T> ? T : never

const retargetTransfer = (value: object, t: TransferTargets): Record<string, unknown> =>
  "fromAccountId" in value ? { ...value, ...t } : { ...value, transferId: t.transferId }

const decodeTransferCommand = Schema.decodeUnknownSync(Transfer.TransferCommand)
const decodeTransferEvent = Schema.decodeUnknownSync(Transfer.TransferEvent)

const transferCommandFrom = <A extends Transfer.TransferCommand>(schema: Schema.Schema<A>) =>
  Arbitrary.all({ command: Arbitrary.schema(schema), targets: transferTargets }).pipe(
    Arbitrary.map(({ command, targets }) => decodeTransferCommand(retargetTransfer(command, targets)))
  )

export const transferCommand: Arbitrary.Arbitrary<Transfer.TransferCommand> = transferCommandFrom(
  Transfer.TransferCommand
)

/** Sequences that request some transfers first, then mix every step in any order. */
export const transferCommands: Arbitrary.Arbitrary<ReadonlyArray<Transfer.TransferCommand>> = Arbitrary.all({
  requests: Arbitrary.array(transferCommandFrom(Transfer.RequestTransfer), { maxLength: 3 }),
  rest: Arbitrary.array(transferCommand, { minLength: 5, maxLength: 60 })
}).pipe(Arbitrary.map(({ requests, rest }) => [...requests, ...rest]))

export const transferEvent: Arbitrary.Arbitrary<Transfer.TransferEvent> = Arbitrary.all({
  event: Arbitrary.schema(Transfer.TransferEvent),
  targets: transferTargets
}).pipe(Arbitrary.map(({ event, targets }) => decodeTransferEvent(retargetTransfer(event, targets))))

// --- transfer sagas --------------------------------------------------------------------------------

/** The commands that disturb a saga from outside: everything but the transfer steps. */
const DisruptiveCommand = Schema.Union([
  Account.OpenAccount,
  Account.Deposit,
  Account.Withdraw,
  Account.SetOverdraftLimit,
  Account.FreezeAccount,
  Account.UnfreezeAccount,
  Account.CloseAccount
])

export type SagaAction =
  | { readonly _tag: "Request"; readonly transferId: TransferId }
  | { readonly _tag: "Advance"; readonly transferId: TransferId }
  | { readonly _tag: "Crash"; readonly transferId: TransferId }
  | { readonly _tag: "Redeliver"; readonly transferId: TransferId; readonly which: number }
  | { readonly _tag: "Disrupt"; readonly command: Account.AccountCommand }
  /** The holder empties the account and closes it (e.g. under a pending incoming transfer). */
  | { readonly _tag: "CloseOut"; readonly accountId: AccountId }

const sagaAction: Arbitrary.Arbitrary<SagaAction> = Arbitrary.all({
  kind: pick(["Request", "Advance", "Advance", "Advance", "Crash", "Redeliver", "Redeliver", "Disrupt", "CloseOut"] as const),
  transferId: pick(transferIds),
  accountId: pick(accountIds),
  which: Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 7 }))),
  command: commandFrom(DisruptiveCommand)
}).pipe(
  Arbitrary.map(({ kind, transferId, accountId, which, command }): SagaAction => {
    switch (kind) {
      case "CloseOut":
        return { _tag: "CloseOut", accountId }
      case "Disrupt":
        return { _tag: "Disrupt", command }
      case "Redeliver":
        return { _tag: "Redeliver", transferId, which }
      default:
        return { _tag: kind, transferId }
    }
  })
)

export interface SagaScenario {
  /** Opening commands and initial deposits. */
  readonly setup: ReadonlyArray<Account.AccountCommand>
  /** One request per pooled transfer id (some name the same account twice and are rejected). */
  readonly requests: ReadonlyArray<Transfer.RequestTransfer>
  readonly actions: ReadonlyArray<SagaAction>
}

const decodeRequest = Schema.decodeUnknownSync(Transfer.RequestTransfer)
const mainCurrency = currencies[0] as Currency

/**
 * The first two accounts open in the main currency with a deposit; the third maybe, in any currency and
 * empty (so that disturbances can close it under a transfer's feet).
 */
const sagaSetup: Arbitrary.Arbitrary<ReadonlyArray<Account.AccountCommand>> = Arbitrary.all({
  opens: Arbitrary.all(
    accountIds.map((accountId, index) => commandFrom(Account.OpenAccount, index < 2 ? { accountId, currency: mainCurrency } : { accountId }))
  ),
  openThird: Arbitrary.schema(Schema.Boolean),
  deposits: Arbitrary.all(
    accountIds.slice(0, 2).map((accountId) => commandFrom(Account.Deposit, { accountId, currency: mainCurrency }))
  ),
  extra: Arbitrary.array(oneOf<Account.AccountCommand>(commandFrom(Account.OpenAccount), commandFrom(Account.Deposit)), {
    maxLength: 6
  })
}).pipe(Arbitrary.map(({ opens, openThird, deposits, extra }) => [
  ...(openThird ? opens : opens.slice(0, 2)),
  ...deposits,
  ...extra
]))

/** A request between two pooled accounts (the same one now and then), mostly in the main currency. */
const sagaRequest = (transferId: TransferId): Arbitrary.Arbitrary<Transfer.RequestTransfer> =>
  Arbitrary.all({
    request: Arbitrary.schema(Transfer.RequestTransfer),
    from: pick([0, 1, 2]),
    offset: pick([1, 1, 1, 2, 2, 2, 0]),
    currency,
    amount
  }).pipe(Arbitrary.map(({ request, from, offset, currency, amount }) =>
    decodeRequest({
      ...request,
      transferId,
      fromAccountId: accountIds[from],
      toAccountId: accountIds[(from + offset) % accountIds.length],
      currency,
      amount
    })
  ))

export const sagaScenario: Arbitrary.Arbitrary<SagaScenario> = Arbitrary.all({
  setup: sagaSetup,
  requests: Arbitrary.all(transferIds.map(sagaRequest)),
  actions: Arbitrary.array(sagaAction, { minLength: 5, maxLength: 80 })
})

// --- stored payloads of retired versions (v1 era: EUR only, decimal euros) -----------------------------

/**
 * A stored payload of an old version, and the current events it must read as, computed here from the
 * generated parts (not by the upcasters under test).
 */
export interface LegacyCase {
  readonly stored: StoredPayload
  readonly expected: ReadonlyArray<Account.AccountEvent>
}

const EUR = Currency.make("EUR")

/** An amount as the v1 API stored it: decimal euros with at most two fraction digits, 0.01 .. MaxAmount / 100. */
export const legacyAmount: Arbitrary.Arbitrary<{ readonly cents: Amount; readonly euros: number }> = amount.pipe(
  Arbitrary.map((cents) => ({ cents, euros: cents / 100 }))
)

/** Valid names and emails, and now and then the placeholders the store reads erased fields as. */
const legacyHolder = Arbitrary.all({
  name: oneOf(Arbitrary.schema(Account.HolderName), Arbitrary.schema(Account.HolderName), Arbitrary.Constant(Account.ErasedHolderName)),
  email: oneOf(Arbitrary.schema(Account.HolderEmail), Arbitrary.schema(Account.HolderEmail), Arbitrary.Constant(Account.ErasedHolderEmail))
})

const legacyFacts = Arbitrary.all({ accountId: Arbitrary.schema(AccountId), at: Arbitrary.schema(Timestamp) })

export const moneyDepositedV1: Arbitrary.Arbitrary<LegacyCase> = Arbitrary.all({ facts: legacyFacts, amount: legacyAmount })
  .pipe(Arbitrary.map(({ facts: { accountId, at }, amount: { cents, euros } }) => ({
    stored: { type: "MoneyDeposited", schemaVersion: 1, data: { accountId, amount: euros, at } },
    expected: [{ _tag: "MoneyDeposited", accountId, amount: cents, currency: EUR, at }]
  })))

export const fundsWithdrawnV1: Arbitrary.Arbitrary<LegacyCase> = Arbitrary.all({ facts: legacyFacts, amount: legacyAmount })
  .pipe(Arbitrary.map(({ facts: { accountId, at }, amount: { cents, euros } }) => ({
    stored: { type: "FundsWithdrawn", schemaVersion: 1, data: { accountId, amount: euros, at } },
    expected: [{ _tag: "MoneyWithdrawn", accountId, amount: cents, currency: EUR, at }]
  })))

export const accountOpenedV1: Arbitrary.Arbitrary<LegacyCase> = Arbitrary.all({ facts: legacyFacts, holder: legacyHolder })
  .pipe(Arbitrary.map(({ facts: { accountId, at }, holder: { name, email } }) => ({
    stored: { type: "AccountOpened", schemaVersion: 1, data: { accountId, owner: name, email, at } },
    expected: [{ _tag: "AccountOpened", accountId, holderName: name, holderEmail: email, currency: EUR, at }]
  })))

export const accountOpenedWithDepositV1: Arbitrary.Arbitrary<LegacyCase> = Arbitrary.all({
  facts: legacyFacts,
  holder: legacyHolder,
  deposit: oneOf(legacyAmount, legacyAmount, Arbitrary.Constant(undefined))
}).pipe(Arbitrary.map(({ facts: { accountId, at }, holder: { name, email }, deposit }) => ({
  stored: {
    type: "AccountOpenedWithDeposit",
    schemaVersion: 1,
    data: { accountId, owner: name, email, initialDeposit: deposit?.euros ?? 0, at }
  },
  expected: [
    { _tag: "AccountOpened", accountId, holderName: name, holderEmail: email, currency: EUR, at },
    ...(deposit === undefined ? [] : [{ _tag: "MoneyDeposited", accountId, amount: deposit.cents, currency: EUR, at } as const])
  ]
})))

/** Any stored payload of a retired version. */
export const legacyCase: Arbitrary.Arbitrary<LegacyCase> = oneOf(
  moneyDepositedV1,
  fundsWithdrawnV1,
  accountOpenedV1,
  accountOpenedWithDepositV1
)

/**
 * One v1-era account stream, as stored: its opening (with or without a deposit, combined or not), then
 * deposits and withdrawals in decimal euros, all on the same account.
 */
export const legacyStream: Arbitrary.Arbitrary<ReadonlyArray<LegacyCase>> = Arbitrary.all({
  opening: oneOf(accountOpenedV1, accountOpenedWithDepositV1),
  moves: Arbitrary.array(oneOf(moneyDepositedV1, fundsWithdrawnV1), { maxLength: 12 })
}).pipe(Arbitrary.map(({ opening, moves }) => {
  const accountId = (opening.stored.data as { readonly accountId: AccountId }).accountId
  const onAccount = (c: LegacyCase): LegacyCase => ({
    stored: { ...c.stored, data: { ...(c.stored.data as object), accountId } },
    expected: c.expected.map((e) => ({ ...e, accountId }))
  })
  return [opening, ...moves.map(onAccount)]
}))
