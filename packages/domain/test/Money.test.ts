/**
 * Money: codes and amounts are validated, bounds keep all arithmetic exact, and the debit / credit
 * predicates sit exactly on their limits.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Money from "../src/Money.ts"
import { props } from "./support/Props.ts"

describe("Money", () => {
  it("keeps every bound and every sum of bounds inside the safe-integer range", () => {
    assert.isTrue(Number.isSafeInteger(Money.MaxBalance + Money.MaxAmount + Money.MaxOverdraftLimit))
    assert.isTrue(Number.isSafeInteger(-Money.MaxOverdraftLimit - Money.MaxAmount))
  })
  it("accepts ISO 4217 alphabetic codes only", () => {
    const isCurrency = Schema.is(Money.Currency)
    assert.deepStrictEqual(["EUR", "USD", "JPY"].map(isCurrency), [true, true, true])
    assert.deepStrictEqual(["eur", "EU", "EURO", "E1R", ""].map(isCurrency), [false, false, false, false, false])
  })
  it("accepts positive whole amounts up to MaxAmount only", () => {
    const isAmount = Schema.is(Money.Amount)
    assert.deepStrictEqual([1, 250, Money.MaxAmount].map(isAmount), [true, true, true])
    assert.deepStrictEqual([0, -1, 1.5, Money.MaxAmount + 1, Number.NaN].map(isAmount), [false, false, false, false, false])
  })
  it("bounds overdraft limits and balances", () => {
    assert.isTrue(Schema.is(Money.OverdraftLimit)(0))
    assert.isFalse(Schema.is(Money.OverdraftLimit)(-1))
    assert.isTrue(Schema.is(Money.Balance)(-Money.MaxOverdraftLimit))
    assert.isFalse(Schema.is(Money.Balance)(Money.MaxBalance + 1))
  })
  it("canDebit allows reaching exactly -overdraftLimit", () => {
    const ten = Money.Amount.make(10)
    assert.isTrue(Money.canDebit(10, ten, Money.noOverdraft))
    assert.isFalse(Money.canDebit(9, ten, Money.noOverdraft))
    assert.isTrue(Money.canDebit(0, ten, Money.OverdraftLimit.make(10)))
  })
  it("canCredit allows reaching exactly MaxBalance, counting reserved money", () => {
    const one = Money.Amount.make(1)
    assert.isTrue(Money.canCredit(Money.MaxBalance - 1, one))
    assert.isFalse(Money.canCredit(Money.MaxBalance, one))
    assert.isFalse(Money.canCredit(Money.MaxBalance - 1, one, 1))
  })
  it.prop("any balance plus or minus any amount is an exact (safe) integer", [Money.Balance, Money.Amount], ([balance, amount]) => {
    assert.isTrue(Number.isSafeInteger(balance + amount))
    assert.isTrue(Number.isSafeInteger(balance - amount))
  }, props)
})
