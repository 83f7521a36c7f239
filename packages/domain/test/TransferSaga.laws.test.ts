/**
 * Law (h): transfers conserve money. Generated worlds of pooled accounts run transfer sagas through a
 * minimal process manager, interleaved with crashes (an outcome lost before it was recorded),
 * redeliveries of earlier steps, and outside commands (freeze, close-out, deposit, withdraw, ...) that make
 * debits and credits fail. Once every transfer has ended, the money in the accounts equals the money put
 * in and taken out from outside, and no transfer was debited, credited, refunded or settled twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Account from "../src/Account.ts"
import type { AccountId, TransferId } from "../src/Ids.ts"
import { accountIds, type SagaScenario, sagaScenario, transferIds } from "./support/Arbitraries.ts"
import { ada, alice, amount, bob, EUR, reason, t1 } from "./support/Fixtures.ts"
import { sequenceProps } from "./support/Props.ts"
import { World } from "./support/Saga.ts"

const run = (scenario: SagaScenario): World => {
  const world = new World()
  for (const command of scenario.setup) world.sendAccount(command)
  for (const request of scenario.requests) world.sendTransfer(request)
  for (const action of scenario.actions) {
    switch (action._tag) {
      case "Request": {
        const request = scenario.requests.find((r) => r.transferId === action.transferId)
        if (request !== undefined) world.sendTransfer(request)
        break
      }
      case "Advance":
        world.advance(action.transferId)
        break
      case "Crash":
        world.crash(action.transferId)
        break
      case "Redeliver":
        world.redeliver(action.transferId, action.which)
        break
      case "Disrupt":
        world.sendAccount(action.command)
        break
      case "CloseOut":
        world.closeOut(action.accountId)
        break
    }
    for (const id of accountIds) {
      const state = world.account(id)
      if (state.status === "Open") assert.isAtLeast(state.balance, -state.overdraftLimit, "(a) during the sagas")
    }
  }
  world.drain(transferIds)
  return world
}

const allAccountEvents = (world: World): ReadonlyArray<Account.AccountEvent> => accountIds.flatMap((id) => world.accountEvents.get(id) ?? [])

const count = (events: ReadonlyArray<Account.AccountEvent>, tag: Account.AccountEvent["_tag"], transferId: TransferId) =>
  events.filter((e) => e._tag === tag && "transferId" in e && e.transferId === transferId).length

describe("Transfer saga laws", () => {
  it.prop("(h) money is conserved and every transfer step happens at most once", [sagaScenario], ([scenario]) => {
    const world = run(scenario)
    const events = allAccountEvents(world)

    // every requested transfer has ended
    for (const id of transferIds) {
      const status = world.transfer(id).status
      assert.include(["NotRequested", "Completed", "Failed"], status, `transfer ${id} ended`)
    }

    // conservation: the accounts hold exactly what came in and went out from outside
    let outside = 0
    for (const e of events) {
      if (e._tag === "MoneyDeposited") outside += e.amount
      if (e._tag === "MoneyWithdrawn") outside -= e.amount
    }
    const held = accountIds.reduce((sum, id: AccountId) => sum + Account.balanceOf(world.account(id)), 0)
    assert.strictEqual(held, outside, "sum of balances = deposits - withdrawals")

    // each transfer: at most once per step, and the account steps match the transfer's outcome
    for (const id of transferIds) {
      const state = world.transfer(id)
      const steps = {
        debited: count(events, "MoneyDebitedForTransfer", id),
        credited: count(events, "MoneyCreditedForTransfer", id),
        refunded: count(events, "MoneyRefundedForTransfer", id),
        settled: count(events, "TransferDebitSettled", id)
      }
      const expected = state.status === "Completed"
        ? { debited: 1, credited: 1, refunded: 0, settled: 1 }
        : state.status === "Failed" && state.failedStep === "Credit"
        ? { debited: 1, credited: 0, refunded: 1, settled: 0 }
        : { debited: 0, credited: 0, refunded: 0, settled: 0 }
      assert.deepStrictEqual(steps, expected, `account steps of transfer ${id} (${state.status})`)
      if (state.status === "Completed") {
        const source = world.account(state.fromAccountId)
        const target = world.account(state.toAccountId)
        assert.notStrictEqual(source.status, "Unopened")
        assert.notStrictEqual(target.status, "Unopened")
      }
    }

    // no account is left holding refundable money
    for (const id of accountIds) {
      const state = world.account(id)
      if (state.status !== "Unopened") assert.deepStrictEqual(Account.pendingTransfers(state.transfers), [])
    }
  }, sequenceProps)

  it("a credit rejected by a closed target is refunded: both balances are back where they started", () => {
    const world = new World()
    for (const accountId of [alice, bob]) {
      world.sendAccount({ _tag: "OpenAccount", accountId, ...ada, currency: EUR, at: world.now() })
    }
    world.sendAccount({ _tag: "Deposit", accountId: alice, amount: amount(100), currency: EUR, at: world.now() })
    world.sendTransfer({
      _tag: "RequestTransfer",
      transferId: t1,
      fromAccountId: alice,
      toAccountId: bob,
      amount: amount(60),
      currency: EUR,
      at: world.now()
    })
    world.advance(t1) // debit
    assert.strictEqual(Account.balanceOf(world.account(alice)), 40)
    assert.isTrue(Result.isSuccess(world.sendAccount({ _tag: "CloseAccount", accountId: bob, at: world.now() })))
    world.advance(t1) // credit rejected: AccountIsClosed
    assert.strictEqual(world.transfer(t1).status, "Refunding")
    world.redeliver(t1, 0) // the debit again: nothing
    world.advance(t1) // refund
    const ended = world.transfer(t1)
    assert.deepStrictEqual(ended.status === "Failed" && [ended.failedStep, ended.reason], [
      "Credit",
      reason("AccountIsClosed")
    ])
    assert.strictEqual(Account.balanceOf(world.account(alice)), 100)
    assert.strictEqual(Account.balanceOf(world.account(bob)), 0)
  })
})
