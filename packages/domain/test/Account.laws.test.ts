/**
 * Account laws, checked on generated command sequences over a small pool of accounts and transfers
 * (every command kind, valid or not). Each law runs RUNS generated cases; a failure prints the shrunk
 * input and a replay token.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as Account from "../src/Account.ts"
import { fold } from "../src/Decider.ts"
import type { AccountId } from "../src/Ids.ts"
import { MaxBalance } from "../src/Money.ts"
import { accountCommand, accountCommands, accountEvent } from "./support/Arbitraries.ts"
import { jsonRoundTrip } from "./support/Json.ts"
import { props, sequenceProps } from "./support/Props.ts"

interface Step {
  readonly command: Account.AccountCommand
  readonly before: Account.AccountState
  readonly decision: Account.AccountDecision
  readonly after: Account.AccountState
}

/** Runs commands against their own account's state; returns each step and each account's history. */
const simulate = (commands: ReadonlyArray<Account.AccountCommand>) => {
  const states = new Map<AccountId, Account.AccountState>()
  const histories = new Map<AccountId, Array<Account.AccountEvent>>()
  const steps: Array<Step> = []
  for (const command of commands) {
    const before = states.get(command.accountId) ?? Account.initialState
    const decision = Account.decide(command, before)
    const events = Result.isSuccess(decision) ? decision.success : []
    const after = fold(Account.decider, events, before)
    states.set(command.accountId, after)
    histories.set(command.accountId, [...(histories.get(command.accountId) ?? []), ...events])
    steps.push({ command, before, decision, after })
  }
  return { steps, states, histories }
}

/** Commands that decide nothing once their effect is present. Deposit and Withdraw carry no operation id. */
const isIdempotent = (command: Account.AccountCommand) => command._tag !== "Deposit" && command._tag !== "Withdraw"

const isValidState = Schema.is(Account.AccountState)

describe("Account laws", () => {
  it.prop("(a) balance never goes below -overdraftLimit, and every state stays within bounds", [accountCommands], ([commands]) => {
    for (const { after } of simulate(commands).steps) {
      assert.isTrue(isValidState(after), "the state satisfies its schema (balance and limit bounds)")
      if (after.status === "Open") {
        assert.isAtLeast(after.balance, -after.overdraftLimit)
        assert.isAtMost(after.balance + Account.reserved(after.transfers), MaxBalance)
      }
      if (after.status === "Closed") assert.deepStrictEqual(Account.pendingTransfers(after.transfers), [])
    }
  }, sequenceProps)

  it.prop("(b) deposits + credits + refunds - withdrawals - debits = the folded balance", [accountCommands], ([commands]) => {
    const { states, histories } = simulate(commands)
    for (const [accountId, history] of histories) {
      let flows = 0
      for (const event of history) {
        switch (event._tag) {
          case "MoneyDeposited":
          case "MoneyCreditedForTransfer":
          case "MoneyRefundedForTransfer":
            flows += event.amount
            break
          case "MoneyWithdrawn":
          case "MoneyDebitedForTransfer":
            flows -= event.amount
            break
          default:
            // The other events move no money.
            break
        }
      }
      assert.strictEqual(Account.balanceOf(states.get(accountId) ?? Account.initialState), flows)
    }
  }, sequenceProps)

  it.prop("(c) folding all events at once = one by one = any split into two halves", [accountCommands], ([commands]) => {
    const { states, histories } = simulate(commands)
    for (const [accountId, history] of histories) {
      const all = fold(Account.decider, history)
      assert.deepStrictEqual(all, states.get(accountId), "the state built step by step")
      let oneByOne = Account.initialState
      for (const event of history) oneByOne = fold(Account.decider, [event], oneByOne)
      assert.deepStrictEqual(oneByOne, all)
      for (let split = 0; split <= history.length; split++) {
        const firstHalf = fold(Account.decider, history.slice(0, split))
        assert.deepStrictEqual(fold(Account.decider, history.slice(split), firstHalf), all)
      }
    }
  }, sequenceProps)

  it.prop("(d) deciding the same command again adds nothing (idempotent kinds) or is rejected the same way", [accountCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isFailure(decision)) {
        assert.deepStrictEqual(Account.decide(command, before), decision, "a rejection is repeatable")
      } else if (isIdempotent(command)) {
        const again = Account.decide(command, after)
        assert.deepStrictEqual(Result.isSuccess(again) ? again.success : again.failure, [], `${command._tag} again`)
      }
    }
  }, sequenceProps)

  it.prop("(f) a rejected command leaves the state unchanged and decides no events", [accountCommands, accountCommand], ([commands, last]) => {
    const { states } = simulate(commands)
    const before = states.get(last.accountId) ?? Account.initialState
    const snapshot = structuredClone(before)
    const decision = Account.decide(last, before)
    assert.deepStrictEqual(before, snapshot, "decide does not mutate the state")
    if (Result.isFailure(decision)) {
      assert.isTrue(Schema.is(Account.AccountRejection)(decision.failure), "the rejection is a valid AccountRejection")
      assert.deepStrictEqual(simulate([...commands, last]).states.get(last.accountId) ?? Account.initialState, before)
    }
  }, sequenceProps)

  it.prop("(g) evolve is total: any event in any reachable state returns a state", [accountCommands, accountEvent], ([commands, event]) => {
    for (const state of [Account.initialState, ...simulate(commands).states.values()]) {
      const next = Account.evolve(state, event)
      assert.include(["Unopened", "Open", "Closed"], next.status)
    }
  }, sequenceProps)

  describe("(e) encode then decode through JSON is the identity", () => {
    const event = jsonRoundTrip(Account.AccountEvent)
    const command = jsonRoundTrip(Account.AccountCommand)
    const state = jsonRoundTrip(Account.AccountState)
    const rejection = jsonRoundTrip(Account.AccountRejection)

    it.prop("events", [Account.AccountEvent], ([value]) => {
      assert.deepStrictEqual(event(value).decoded, value)
    }, props)
    it.prop("commands", [Account.AccountCommand], ([value]) => {
      assert.deepStrictEqual(command(value).decoded, value)
    }, props)
    it.prop("states (generated from the schema)", [Account.AccountState], ([value]) => {
      assert.deepStrictEqual(state(value).decoded, value)
    }, props)
    it.prop("reachable states, decided events and rejections", [accountCommands], ([commands]) => {
      for (const { decision, after } of simulate(commands).steps) {
        assert.deepStrictEqual(state(after).decoded, after)
        if (Result.isSuccess(decision)) { for (const e of decision.success) assert.deepStrictEqual(event(e).decoded, e) }
        else {
          const decoded = rejection(decision.failure).decoded
          assert.strictEqual(decoded._tag, decision.failure._tag)
          assert.deepStrictEqual({ ...decoded }, { ...decision.failure })
        }
      }
    }, sequenceProps)
  })
})
