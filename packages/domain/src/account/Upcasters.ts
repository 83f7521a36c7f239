/**
 * Account schema evolution: the upcaster chain that brings every account event ever stored to the current
 * versions in `AccountEventVersions`. This file is also the written record of the retired stored shapes
 * (the `...V1` interfaces below): they have no Schema, because upcasters run on the raw JSON before any
 * Schema decodes it. Golden fixtures of every stored (type, version) in golden/account/ are upcast and
 * decoded by test/Golden.test.ts, so a change here that breaks an old shape fails the build.
 *
 * History of the ledger:
 * - v1 era: every account was in EUR. Amounts were stored as DECIMAL euros (major units, e.g. 12.5 for
 *   EUR 12.50, as the v1 API accepted them: at most two fraction digits), the holder's details were called
 *   `owner` and `email`, withdrawals were stored as `FundsWithdrawn`, and accounts opened with money in them
 *   were one `AccountOpenedWithDeposit` event.
 * - v2 (current): integer minor units plus the currency on every money event (`MoneyDeposited`,
 *   `MoneyWithdrawn`), `holderName`/`holderEmail` plus the account's `currency` on `AccountOpened`, and an
 *   opening deposit is its own `MoneyDeposited`.
 *
 *   stored                        -> current
 *   AccountOpened@1               -> AccountOpened@2            owner/email renamed, currency "EUR"
 *   AccountOpenedWithDeposit@1    -> AccountOpened@1 (+ MoneyDeposited@1 unless the deposit is 0), then on
 *   MoneyDeposited@1              -> MoneyDeposited@2           decimal euros -> cents, currency "EUR"
 *   FundsWithdrawn@1              -> MoneyWithdrawn@2           renamed; decimal euros -> cents, currency "EUR"
 *
 * Rules every upcaster here follows:
 * - It converts exactly one stored shape into the NEXT shape, named by a literal version (never read from
 *   `AccountEventVersions`: when v3 comes, v1 -> v2 stays as it is and a new v2 -> v3 step is added).
 * - It builds its output field by field (no spread), so fields of the old shape never leak into the new one,
 *   and fields it does not convert (ids, `at`) pass through unchanged for the current Schema to validate.
 * - It throws an `Error` naming the stored shape and the field when the data is not the shape it claims
 *   (not a JSON object, or an amount that is not a finite number): the store turns that into a typed decode
 *   error of that stored event. Values of the right type but out of range (a zero or negative amount, an
 *   amount above MaxAmount once converted) are converted as they are and the current Schema rejects them.
 * - Personal data: `owner` and `email` are the holder's name and email. By the time upcasters run the store
 *   has already decrypted them, or put the erased placeholder in (`[erased]`, `erased@erased.invalid`, both
 *   valid current values), so they are passed through unchanged, whatever they hold.
 */
import type { PersonalDataField } from "../PersonalData.ts"
import type { StoredPayload, Upcaster } from "../Upcaster.ts"
import { ErasedHolderEmail, ErasedHolderName } from "./Holder.ts"

// --- the retired stored shapes (raw JSON, as written in the v1 era) -------------------------------------

/** `AccountOpened` v1: opened in the EUR-only era. `owner` and `email` are personal data of `accountId`. */
export interface AccountOpenedV1 {
  readonly accountId: string
  readonly owner: string
  readonly email: string
  readonly at: number
}

/** `AccountOpenedWithDeposit` v1 (retired type): an opening and its first deposit, in decimal euros. */
export interface AccountOpenedWithDepositV1 {
  readonly accountId: string
  readonly owner: string
  readonly email: string
  /** Decimal euros (e.g. 100.5); 0 when the account was opened empty. */
  readonly initialDeposit: number
  readonly at: number
}

/** `MoneyDeposited` v1: `amount` in decimal euros (e.g. 12.5 for EUR 12.50). */
export interface MoneyDepositedV1 {
  readonly accountId: string
  readonly amount: number
  readonly at: number
}

/** `FundsWithdrawn` v1 (retired type, now `MoneyWithdrawn`): `amount` in decimal euros. */
export interface FundsWithdrawnV1 {
  readonly accountId: string
  readonly amount: number
  readonly at: number
}

/** The one currency of the v1 era. */
export const LegacyCurrency = "EUR"

/**
 * Personal-data fields of the retired stored shapes, by `type@version` (the current shapes carry the
 * annotation in their Schemas). For tools that handle stored events of old versions before any upcaster
 * runs, e.g. an import of v1-era events that must encrypt them as the store encrypts current ones.
 */
export const legacyPersonalDataFields: Readonly<Record<string, ReadonlyArray<PersonalDataField>>> = {
  "AccountOpened@1": [
    { field: "owner", subjectField: "accountId", placeholder: ErasedHolderName },
    { field: "email", subjectField: "accountId", placeholder: ErasedHolderEmail }
  ],
  "AccountOpenedWithDeposit@1": [
    { field: "owner", subjectField: "accountId", placeholder: ErasedHolderName },
    { field: "email", subjectField: "accountId", placeholder: ErasedHolderEmail }
  ]
}

// --- defensive reading of raw JSON -------------------------------------------------------------------------

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : typeof value === "object"
    ? "an object"
    : typeof value === "string"
    ? JSON.stringify(value)
    : typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : typeof value

/** The stored data as a JSON object; throws when it is anything else. */
const objectOf = (shape: string, data: unknown): Readonly<Record<string, unknown>> => {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error(`${shape}: stored data must be a JSON object, got ${describe(data)}`)
  }
  return data as Readonly<Record<string, unknown>>
}

/** The amount as a number of euros; throws unless it is a finite number. */
const decimalEuros = (shape: string, field: string, value: unknown): number => {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`${shape}: ${field} must be a finite number of euros (decimal major units), got ${describe(value)}`)
  }
  return value
}

/**
 * Decimal euros -> integer cents: `Math.round(euros * 100)`. The v1 API accepted at most two fraction
 * digits, and for those the product is within a hair of the intended integer but not always on it (0.29 * 100
 * is 28.999999999999996 in binary floating point), so rounding to the nearest integer gives the exact cents
 * (0.29 -> 29, 19.99 -> 1999, 12.34 -> 1234) where truncating would lose a cent. Any fraction of a cent,
 * which the v1 API never accepted, is rounded to the nearest cent, halves up (0.005 -> 1). The result is
 * not range-checked here: the current `Amount` schema rejects 0, negatives and values above MaxAmount.
 */
const toCents = (shape: string, field: string, value: unknown): number => Math.round(decimalEuros(shape, field, value) * 100)

/** The object without its `undefined` entries: a field missing from the stored data stays missing, so the
 * current Schema reports it as a missing key rather than as a wrong value. */
const present = (fields: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) out[name] = value
  return out
}

// --- the upcasters ----------------------------------------------------------------------------------------

/**
 * AccountOpened v1 -> v2. What changed: the holder's details were renamed (`owner` -> `holderName`,
 * `email` -> `holderEmail`) when personal data got its own, annotated fields, and accounts got a currency
 * when the ledger went multi-currency. Why "EUR": every v1 account was a EUR account.
 */
const accountOpenedV1: Upcaster = {
  type: "AccountOpened",
  fromVersion: 1,
  upcast: (data): StoredPayload => {
    const v1 = objectOf("AccountOpened v1", data)
    return {
      type: "AccountOpened",
      schemaVersion: 2,
      data: present({
        accountId: v1.accountId,
        holderName: v1.owner, // plaintext, or the placeholder "[erased]": passed through as is
        holderEmail: v1.email, // plaintext, or "erased@erased.invalid": passed through as is
        currency: LegacyCurrency,
        at: v1.at
      })
    }
  }
}

/**
 * AccountOpenedWithDeposit v1 (retired type) -> AccountOpened v1 + MoneyDeposited v1. What changed: an
 * opening and a deposit are two facts, so the combined event was split in two; an account opened empty
 * (`initialDeposit` 0) had no deposit, so it becomes the opening alone (a zero deposit is not a valid
 * `MoneyDeposited`). It splits into the v1 shapes of the same era, with the same `accountId` and `at`, and
 * the chain then carries each piece on to its current version (renames, cents, currency), so those
 * conversions live in one place. The opening comes first: an account must be open to take a deposit.
 */
const accountOpenedWithDepositV1: Upcaster = {
  type: "AccountOpenedWithDeposit",
  fromVersion: 1,
  upcast: (data): ReadonlyArray<StoredPayload> => {
    const shape = "AccountOpenedWithDeposit v1"
    const v1 = objectOf(shape, data)
    const initialDeposit = decimalEuros(shape, "initialDeposit", v1.initialDeposit)
    const opened: StoredPayload = {
      type: "AccountOpened",
      schemaVersion: 1,
      data: present({ accountId: v1.accountId, owner: v1.owner, email: v1.email, at: v1.at })
    }
    if (initialDeposit === 0) return [opened]
    const deposited: StoredPayload = {
      type: "MoneyDeposited",
      schemaVersion: 1,
      data: present({ accountId: v1.accountId, amount: initialDeposit, at: v1.at })
    }
    return [opened, deposited]
  }
}

/**
 * MoneyDeposited v1 -> v2. What changed: amounts became integer minor units (no floats anywhere in the
 * ledger) and every money event names its currency. Conversion: cents = Math.round(euros * 100) (see
 * `toCents`), currency "EUR" (the only currency of the v1 era).
 */
const moneyDepositedV1: Upcaster = {
  type: "MoneyDeposited",
  fromVersion: 1,
  upcast: (data): StoredPayload => {
    const shape = "MoneyDeposited v1"
    const v1 = objectOf(shape, data)
    return {
      type: "MoneyDeposited",
      schemaVersion: 2,
      data: present({ accountId: v1.accountId, amount: toCents(shape, "amount", v1.amount), currency: LegacyCurrency, at: v1.at })
    }
  }
}

/**
 * FundsWithdrawn v1 (retired type) -> MoneyWithdrawn v2. What changed: the type was renamed to match
 * `MoneyDeposited` (a `MoneyWithdrawn` v1 never existed, so the rename and the v2 conversion are one step),
 * and the amount became integer cents with the currency, as for deposits: Math.round(euros * 100), "EUR".
 */
const fundsWithdrawnV1: Upcaster = {
  type: "FundsWithdrawn",
  fromVersion: 1,
  upcast: (data): StoredPayload => {
    const shape = "FundsWithdrawn v1"
    const v1 = objectOf(shape, data)
    return {
      type: "MoneyWithdrawn",
      schemaVersion: 2,
      data: present({ accountId: v1.accountId, amount: toCents(shape, "amount", v1.amount), currency: LegacyCurrency, at: v1.at })
    }
  }
}

/**
 * The Account upcaster chain, for the event store's codec (`upcasters` option). One upcaster per stored
 * (type, version) that is not current; every one of them has a golden fixture in golden/account/.
 */
export const upcasters: ReadonlyArray<Upcaster> = [
  accountOpenedV1,
  accountOpenedWithDepositV1,
  moneyDepositedV1,
  fundsWithdrawnV1
]
