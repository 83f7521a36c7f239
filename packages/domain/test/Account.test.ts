/**
 * Account rules as readable scenarios: given past events, when a command, then the decided events (or
 * nothing, or the named rejection with its facts). Every rule and rejection appears at least once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Account from "../src/Account.ts"
import { MaxAmount, MaxBalance } from "../src/Money.ts"
import {
  ada,
  adaMarried,
  alice,
  amount,
  at,
  bob,
  closed,
  creditedFor,
  debitedFor,
  deposited,
  EUR,
  frozen,
  limit,
  limitSet,
  opened,
  reason,
  refundedFor,
  settledFor,
  t1,
  USD,
  withdrawn
} from "./support/Fixtures.ts"
import { specFor } from "./support/Spec.ts"

const { given } = specFor(Account.decider)

/** Enough deposits of MaxAmount to reach exactly MaxBalance. */
const fullToTheBrim = Array.from({ length: MaxBalance / MaxAmount }, () => deposited(MaxAmount))

describe("Account", () => {
  describe("OpenAccount", () => {
    const open = { _tag: "OpenAccount", accountId: alice, ...ada, currency: EUR, at } as const

    it("opens a new account with a zero balance and no overdraft", () => {
      const state = given([]).when(open).then([opened()])
      assert.deepStrictEqual(state, {
        status: "Open",
        accountId: alice,
        ...ada,
        currency: EUR,
        balance: 0,
        overdraftLimit: limit(0),
        frozen: false,
        transfers: {}
      })
    })
    it("decides nothing when the account is already open with the same details (a retry)", () => {
      given([opened()]).when({ ...open, at: 1 as typeof at }).thenNothing()
    })
    it("rejects opening again with other details", () => {
      given([opened()]).when({ ...open, currency: USD }).thenRejects("AccountAlreadyOpen", { accountId: alice })
      given([opened()]).when({ ...open, ...adaMarried }).thenRejects("AccountAlreadyOpen")
    })
    it("rejects reopening a closed account", () => {
      given([opened(), closed()]).when(open).thenRejects("AccountIsClosed", { accountId: alice })
    })
  })

  describe("Deposit", () => {
    const deposit = (n: number) => ({ _tag: "Deposit", accountId: alice, amount: amount(n), currency: EUR, at }) as const

    it("adds money", () => {
      const state = given([opened()]).when(deposit(100)).then([deposited(100)])
      assert.strictEqual(Account.balanceOf(state), 100)
    })
    it("records the account's currency on the deposit", () => {
      given([opened(alice, USD)]).when({ ...deposit(100), currency: USD }).then([deposited(100, alice, USD)])
    })
    it("rejects an account that was never opened", () => {
      given([]).when(deposit(100)).thenRejects("AccountNotOpen", { accountId: alice })
    })
    it("rejects another currency", () => {
      given([opened()]).when({ ...deposit(100), currency: USD }).thenRejects("CurrencyMismatch", {
        accountId: alice,
        accountCurrency: EUR,
        requestedCurrency: USD
      })
    })
    it("is accepted on a frozen account (money may come in)", () => {
      given([opened(), frozen()]).when(deposit(100)).then([deposited(100)])
    })
    it("rejects going above MaxBalance", () => {
      given([opened(), ...fullToTheBrim]).when(deposit(1)).thenRejects("BalanceLimitExceeded", {
        balance: MaxBalance,
        reserved: 0,
        requested: amount(1),
        maxBalance: MaxBalance
      })
    })
    it("counts money that may still be refunded against MaxBalance", () => {
      given([opened(), ...fullToTheBrim, debitedFor(t1, 500)]).when(deposit(1)).thenRejects("BalanceLimitExceeded", {
        balance: MaxBalance - 500,
        reserved: 500
      })
    })
    it("rejects a closed account", () => {
      given([opened(), closed()]).when(deposit(1)).thenRejects("AccountIsClosed")
    })
    it("is not idempotent: the same deposit twice adds twice", () => {
      given([opened(), deposited(100)]).when(deposit(100)).then([deposited(100)])
    })
  })

  describe("Withdraw", () => {
    const withdraw = (n: number) => ({ _tag: "Withdraw", accountId: alice, amount: amount(n), currency: EUR, at }) as const

    it("takes money out", () => {
      given([opened(), deposited(100)]).when(withdraw(60)).then([withdrawn(60)])
    })
    it("records the account's currency on the withdrawal", () => {
      given([opened(alice, USD), deposited(100, alice, USD)]).when({ ...withdraw(60), currency: USD }).then([
        withdrawn(60, alice, USD)
      ])
    })
    it("rejects going below zero without an overdraft", () => {
      given([opened(), deposited(100)]).when(withdraw(101)).thenRejects("InsufficientFunds", {
        accountId: alice,
        balance: 100,
        requested: amount(101),
        overdraftLimit: limit(0)
      })
    })
    it("allows going down to exactly -overdraftLimit, not one unit more", () => {
      given([opened(), deposited(100), limitSet(50)]).when(withdraw(150)).then([withdrawn(150)])
      given([opened(), deposited(100), limitSet(50)]).when(withdraw(151)).thenRejects("InsufficientFunds", {
        overdraftLimit: limit(50)
      })
    })
    it("rejects a frozen account", () => {
      given([opened(), deposited(100), frozen()]).when(withdraw(1)).thenRejects("AccountIsFrozen", { accountId: alice })
    })
    it("rejects another currency", () => {
      given([opened(), deposited(100)]).when({ ...withdraw(1), currency: USD }).thenRejects("CurrencyMismatch")
    })
  })

  describe("SetOverdraftLimit", () => {
    const setLimit = (n: number) => ({ _tag: "SetOverdraftLimit", accountId: alice, limit: limit(n), at }) as const

    it("sets the limit", () => {
      given([opened()]).when(setLimit(500)).then([limitSet(500)])
    })
    it("decides nothing when the limit is already set", () => {
      given([opened(), limitSet(500)]).when(setLimit(500)).thenNothing()
    })
    it("rejects a limit the current balance already violates", () => {
      given([opened(), limitSet(500), withdrawn(300)]).when(setLimit(299)).thenRejects("OverdraftLimitViolated", {
        balance: -300,
        requestedLimit: limit(299)
      })
      given([opened(), limitSet(500), withdrawn(300)]).when(setLimit(300)).then([limitSet(300)])
    })
  })

  describe("UpdateHolderDetails", () => {
    const update = { _tag: "UpdateHolderDetails", accountId: alice, ...adaMarried, at } as const

    it("records new details", () => {
      const state = given([opened()]).when(update).then([{ ...update, _tag: "HolderDetailsUpdated" }])
      assert.strictEqual(state.status === "Open" && state.holderName, adaMarried.holderName)
    })
    it("decides nothing when the details are unchanged", () => {
      given([opened()]).when({ ...update, ...ada }).thenNothing()
    })
    it("rejects a closed account", () => {
      given([opened(), closed()]).when(update).thenRejects("AccountIsClosed")
    })
  })

  describe("FreezeAccount / UnfreezeAccount", () => {
    const freeze = { _tag: "FreezeAccount", accountId: alice, reason: reason("fraud check"), at } as const
    const unfreeze = { _tag: "UnfreezeAccount", accountId: alice, at } as const

    it("freezes, and freezing a frozen account decides nothing", () => {
      given([opened()]).when(freeze).then([frozen()])
      given([opened(), frozen()]).when({ ...freeze, reason: reason("another reason") }).thenNothing()
    })
    it("unfreezes, and unfreezing an unfrozen account decides nothing", () => {
      given([opened(), frozen()]).when(unfreeze).then([{ _tag: "AccountUnfrozen", accountId: alice, at }])
      given([opened()]).when(unfreeze).thenNothing()
    })
  })

  describe("CloseAccount", () => {
    const close = { _tag: "CloseAccount", accountId: alice, at } as const

    it("closes at a zero balance", () => {
      const state = given([opened(), deposited(10), withdrawn(10)]).when(close).then([closed()])
      assert.strictEqual(state.status, "Closed")
    })
    it("rejects a non-zero balance, positive or negative", () => {
      given([opened(), deposited(10)]).when(close).thenRejects("BalanceNotZero", { balance: 10 })
      given([opened(), limitSet(10), withdrawn(10)]).when(close).thenRejects("BalanceNotZero", { balance: -10 })
    })
    it("rejects a frozen account", () => {
      given([opened(), frozen()]).when(close).thenRejects("AccountIsFrozen")
    })
    it("rejects while a debited transfer may still be refunded", () => {
      given([opened(), deposited(10), debitedFor(t1, 10)]).when(close).thenRejects("TransfersPending", {
        transferIds: [t1]
      })
      given([opened(), deposited(10), debitedFor(t1, 10), settledFor(t1)]).when(close).then([closed()])
    })
    it("decides nothing when already closed, and a closed account rejects everything else", () => {
      given([opened(), closed()]).when(close).thenNothing()
      given([opened(), closed()]).when({ _tag: "UnfreezeAccount", accountId: alice, at }).thenRejects(
        "AccountIsClosed"
      )
    })
  })

  describe("transfer steps", () => {
    const debit = (n: number) =>
      ({
        _tag: "DebitForTransfer",
        accountId: alice,
        transferId: t1,
        toAccountId: bob,
        amount: amount(n),
        currency: EUR,
        at
      }) as const
    const credit = (n: number) =>
      ({
        _tag: "CreditForTransfer",
        accountId: bob,
        transferId: t1,
        fromAccountId: alice,
        amount: amount(n),
        currency: EUR,
        at
      }) as const
    const refund = { _tag: "RefundTransfer", accountId: alice, transferId: t1, at } as const
    const settle = { _tag: "SettleTransfer", accountId: alice, transferId: t1, at } as const

    it("debits the source and remembers the transfer as pending", () => {
      const state = given([opened(), deposited(100)]).when(debit(40)).then([debitedFor(t1, 40)])
      assert.deepStrictEqual(state.status === "Open" && state.transfers[t1], {
        _tag: "Outgoing",
        toAccountId: bob,
        amount: amount(40),
        status: "Pending"
      })
    })
    it("decides nothing for a debit already applied, even if funds are now short", () => {
      given([opened(), deposited(100), debitedFor(t1, 100)]).when(debit(100)).thenNothing()
    })
    it("rejects reusing a transfer id with other facts", () => {
      given([opened(), deposited(100), debitedFor(t1, 40)]).when(debit(41)).thenRejects("TransferMismatch", {
        transferId: t1
      })
      given([opened(), deposited(100), debitedFor(t1, 40)]).when({ ...credit(40), accountId: alice }).thenRejects(
        "TransferMismatch"
      )
    })
    it("applies the debit rules: funds, freeze, currency", () => {
      given([opened(), deposited(10)]).when(debit(11)).thenRejects("InsufficientFunds")
      given([opened(), deposited(10), frozen()]).when(debit(1)).thenRejects("AccountIsFrozen")
      given([opened(alice, USD), deposited(10, alice, USD)]).when(debit(1)).thenRejects("CurrencyMismatch")
    })
    it("credits the target, also when frozen, and once only", () => {
      given([opened(bob)]).when(credit(40)).then([creditedFor(t1, 40)])
      given([opened(bob), frozen(bob)]).when(credit(40)).then([creditedFor(t1, 40)])
      given([opened(bob), creditedFor(t1, 40)]).when(credit(40)).thenNothing()
    })
    it("rejects a credit to a closed, unopened or other-currency target", () => {
      given([opened(bob), closed(bob)]).when(credit(40)).thenRejects("AccountIsClosed", { accountId: bob })
      given([]).when(credit(40)).thenRejects("AccountNotOpen", { accountId: bob })
      given([opened(bob, USD)]).when(credit(40)).thenRejects("CurrencyMismatch", { accountId: bob })
    })
    it("refunds a pending debit once, even on a frozen account", () => {
      given([opened(), deposited(100), debitedFor(t1, 40)]).when(refund).then([refundedFor(t1, 40)])
      given([opened(), deposited(100), debitedFor(t1, 40), frozen()]).when(refund).then([refundedFor(t1, 40)])
      given([opened(), deposited(100), debitedFor(t1, 40), refundedFor(t1, 40)]).when(refund).thenNothing()
    })
    it("settles a pending debit once", () => {
      given([opened(), deposited(100), debitedFor(t1, 40)]).when(settle).then([settledFor(t1)])
      given([opened(), deposited(100), debitedFor(t1, 40), settledFor(t1)]).when(settle).thenNothing()
    })
    it("rejects refunding or settling what was not debited here", () => {
      given([opened()]).when(refund).thenRejects("TransferNotDebited", { accountId: alice, transferId: t1 })
      given([opened(bob), creditedFor(t1, 40)]).when({ ...settle, accountId: bob }).thenRejects("TransferNotDebited")
    })
    it("never both refunds and settles the same debit", () => {
      given([opened(), deposited(100), debitedFor(t1, 40), settledFor(t1)]).when(refund).thenRejects(
        "TransferAlreadySettled"
      )
      given([opened(), deposited(100), debitedFor(t1, 40), refundedFor(t1, 40)]).when(settle).thenRejects(
        "TransferAlreadyRefunded"
      )
    })
    it("recognises a step already applied even after the account closed", () => {
      const history = [opened(), deposited(40), debitedFor(t1, 40), refundedFor(t1, 40), withdrawn(40), closed()]
      given(history).when(refund).thenNothing()
      given(history).when(debit(40)).thenNothing()
      given(history).when({ ...debit(40), transferId: "7f000000-0000-4000-8000-000000000009" as typeof t1 })
        .thenRejects("AccountIsClosed")
    })
  })

  describe("evolve", () => {
    it("ignores events that cannot apply (total, never throws)", () => {
      assert.deepStrictEqual(Account.evolve(Account.initialState, deposited(5)), Account.initialState)
      const closedState = [opened(), closed()].reduce(Account.evolve, Account.initialState)
      assert.deepStrictEqual(Account.evolve(closedState, deposited(5)), closedState)
    })
  })
})
