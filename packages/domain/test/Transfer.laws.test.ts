/**
 * Transfer laws on generated command sequences over two transfer ids (every step kind, in any order).
 * Each law runs RUNS generated cases; a failure prints the shrunk input and a replay token.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { fold } from "../src/Decider.ts"
import type { TransferId } from "../src/Ids.ts"
import * as Transfer from "../src/Transfer.ts"
import { transferCommand, transferCommands, transferEvent } from "./support/Arbitraries.ts"
import { jsonRoundTrip } from "./support/Json.ts"
import { props, sequenceProps } from "./support/Props.ts"

const simulate = (commands: ReadonlyArray<Transfer.TransferCommand>) => {
  const states = new Map<TransferId, Transfer.TransferState>()
  const histories = new Map<TransferId, Array<Transfer.TransferEvent>>()
  const steps: Array<{
    command: Transfer.TransferCommand
    before: Transfer.TransferState
    decision: Transfer.TransferDecision
    after: Transfer.TransferState
  }> = []
  for (const command of commands) {
    const before = states.get(command.transferId) ?? Transfer.initialState
    const decision = Transfer.decide(command, before)
    const events = Result.isSuccess(decision) ? decision.success : []
    const after = fold(Transfer.decider, events, before)
    states.set(command.transferId, after)
    histories.set(command.transferId, [...(histories.get(command.transferId) ?? []), ...events])
    steps.push({ command, before, decision, after })
  }
  return { steps, states, histories }
}

/** The state machine's edges. */
const edges: ReadonlyArray<readonly [Transfer.TransferStatus, Transfer.TransferStatus]> = [
  ["NotRequested", "Requested"],
  ["Requested", "Debited"],
  ["Requested", "Failed"],
  ["Debited", "Credited"],
  ["Debited", "Refunding"],
  ["Refunding", "Failed"],
  ["Credited", "Completed"]
]

describe("Transfer laws", () => {
  it.prop("the status only moves along the state machine's edges, one edge per accepted step", [transferCommands], ([commands]) => {
    for (const { before, decision, after } of simulate(commands).steps) {
      assert.isTrue(Schema.is(Transfer.TransferState)(after))
      if (Result.isSuccess(decision) && decision.success.length > 0) {
        assert.strictEqual(decision.success.length, 1)
        assert.isTrue(edges.some(([from, to]) => from === before.status && to === after.status), `${before.status} -> ${after.status}`)
      } else {
        assert.deepStrictEqual(after, before)
      }
    }
  }, sequenceProps)

  it.prop("(c) folding all events at once = one by one = any split into two halves", [transferCommands], ([commands]) => {
    const { states, histories } = simulate(commands)
    for (const [transferId, history] of histories) {
      const all = fold(Transfer.decider, history)
      assert.deepStrictEqual(all, states.get(transferId))
      let oneByOne = Transfer.initialState
      for (const event of history) oneByOne = fold(Transfer.decider, [event], oneByOne)
      assert.deepStrictEqual(oneByOne, all)
      for (let split = 0; split <= history.length; split++) {
        assert.deepStrictEqual(fold(Transfer.decider, history.slice(split), fold(Transfer.decider, history.slice(0, split))), all)
      }
    }
  }, sequenceProps)

  it.prop("(d) deciding the same command again adds nothing, or is rejected the same way", [transferCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isSuccess(decision)) {
        const again = Transfer.decide(command, after)
        assert.deepStrictEqual(Result.isSuccess(again) ? again.success : again.failure, [], `${command._tag} again`)
      } else assert.deepStrictEqual(Transfer.decide(command, before), decision)
    }
  }, sequenceProps)

  it.prop("(f) a rejected command leaves the state unchanged and decides no events", [transferCommands, transferCommand], ([commands, last]) => {
    const before = simulate(commands).states.get(last.transferId) ?? Transfer.initialState
    const snapshot = structuredClone(before)
    const decision = Transfer.decide(last, before)
    assert.deepStrictEqual(before, snapshot, "decide does not mutate the state")
    if (Result.isFailure(decision)) {
      assert.isTrue(Schema.is(Transfer.TransferRejection)(decision.failure))
      assert.deepStrictEqual(simulate([...commands, last]).states.get(last.transferId) ?? Transfer.initialState, before)
    }
  }, sequenceProps)

  it.prop("(g) evolve is total: any event in any reachable state returns a valid status", [transferCommands, transferEvent], ([commands, event]) => {
    for (const state of [Transfer.initialState, ...simulate(commands).states.values()]) {
      assert.include(Transfer.TransferStatus.literals, Transfer.evolve(state, event).status)
    }
  }, sequenceProps)

  describe("(e) encode then decode through JSON is the identity", () => {
    const event = jsonRoundTrip(Transfer.TransferEvent)
    const command = jsonRoundTrip(Transfer.TransferCommand)
    const state = jsonRoundTrip(Transfer.TransferState)
    const rejection = jsonRoundTrip(Transfer.TransferRejection)

    it.prop("events", [Transfer.TransferEvent], ([value]) => {
      assert.deepStrictEqual(event(value).decoded, value)
    }, props)
    it.prop("commands", [Transfer.TransferCommand], ([value]) => {
      assert.deepStrictEqual(command(value).decoded, value)
    }, props)
    it.prop("states", [Transfer.TransferState], ([value]) => {
      assert.deepStrictEqual(state(value).decoded, value)
    }, props)
    it.prop("rejections", [Transfer.TransferRejection], ([value]) => {
      const decoded = rejection(value).decoded
      assert.strictEqual(decoded._tag, value._tag)
      assert.deepStrictEqual({ ...decoded }, { ...value })
    }, props)
  })
})
