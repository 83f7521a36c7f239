/**
 * Money as integer counts of minor units (cents), never floats. Every bound below keeps every balance and
 * every intermediate sum far inside the safe-integer range (2^53 - 1, about 9.007e15), so arithmetic on
 * amounts and balances is exact. Decisions that would cross a bound are rejected by the aggregates.
 */
import { Schema } from "effect"

/** Largest amount of a single operation (deposit, withdrawal, transfer): 10^12 minor units. */
export const MaxAmount = 1_000_000_000_000
/** Largest overdraft limit an account may have: 10^12 minor units. */
export const MaxOverdraftLimit = 1_000_000_000_000
/** Largest balance (including money that may still be refunded to it): 10^15 minor units. */
export const MaxBalance = 1_000_000_000_000_000

/** ISO 4217 alphabetic currency code, e.g. "EUR". */
export const Currency = Schema.String.check(
  Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO 4217 alphabetic code (3 uppercase letters)" })
).pipe(Schema.brand("Currency"))
export type Currency = typeof Currency.Type

/** A positive amount of minor units moved by one operation: 1 .. MaxAmount. */
export const Amount = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MaxAmount })).pipe(
  Schema.brand("Amount")
)
export type Amount = typeof Amount.Type

/** How far below zero a balance may go: 0 .. MaxOverdraftLimit. */
export const OverdraftLimit = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MaxOverdraftLimit })).pipe(
  Schema.brand("OverdraftLimit")
)
export type OverdraftLimit = typeof OverdraftLimit.Type

/** A balance in minor units: -MaxOverdraftLimit .. MaxBalance. */
export const Balance = Schema.Int.check(Schema.isBetween({ minimum: -MaxOverdraftLimit, maximum: MaxBalance }))
export type Balance = typeof Balance.Type

export const noOverdraft: OverdraftLimit = OverdraftLimit.make(0)

/** True when taking `amount` out of `balance` keeps it at or above `-overdraftLimit`. */
export const canDebit = (balance: Balance, amount: Amount, overdraftLimit: OverdraftLimit): boolean => balance - amount >= -overdraftLimit

/** True when adding `amount` to `balance` (plus money `reserved` for possible refunds) stays within MaxBalance. */
export const canCredit = (balance: Balance, amount: Amount, reserved = 0): boolean => balance + reserved + amount <= MaxBalance
