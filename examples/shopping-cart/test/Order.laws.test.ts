/**
 * Order laws, on generated command sequences over two orders and two carts: an accepted command has its
 * effect once folded; placing, confirming or cancelling again decides nothing; confirmation and
 * cancellation exclude each other; evolve is total; events survive the store's encode/decode.
 */
import { assert, describe, it } from "@effect/vitest"
import { fold } from "@verity/kernel/Decider"
import { Result, Schema } from "effect"
import * as Order from "../src/Order.ts"
import { orderCodec } from "../src/Streams.ts"
import { totalOf } from "../src/Values.ts"
import { orderCommands, props, sequenceProps } from "./support/Arbitraries.ts"
import { storedAndRead } from "./support/Stored.ts"

const simulate = (commands: ReadonlyArray<Order.OrderCommand>) => {
  const states = new Map<string, Order.OrderState>()
  const histories = new Map<string, Array<Order.OrderEvent>>()
  const steps: Array<{ command: Order.OrderCommand; before: Order.OrderState; decision: Order.OrderDecision; after: Order.OrderState }> = []
  for (const command of commands) {
    const before = states.get(command.orderId) ?? Order.initialState
    const decision = Order.decide(command, before)
    const events = Result.isSuccess(decision) ? decision.success : []
    const after = fold(Order.decider, events, before)
    states.set(command.orderId, after)
    histories.set(command.orderId, [...(histories.get(command.orderId) ?? []), ...events])
    steps.push({ command, before, decision, after })
  }
  return { steps, states, histories }
}

const isOrderState = Schema.is(Order.OrderState)

describe("Order laws", () => {
  it.prop("an accepted command has its effect on the folded state", [orderCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isFailure(decision)) continue
      if (command._tag === "PlaceOrder") {
        assert.notStrictEqual(after.status, "Unplaced")
        if (after.status !== "Unplaced") {
          assert.strictEqual(after.cartId, command.cartId)
          assert.deepStrictEqual(after.lines, command.lines)
          assert.strictEqual(after.total, totalOf(command.lines))
        }
        if (before.status !== "Unplaced") assert.deepStrictEqual(after, before, "a repeated placement changes nothing")
      }
      if (command._tag === "ConfirmOrder") assert.strictEqual(after.status, "Confirmed")
      if (command._tag === "CancelOrder") assert.strictEqual(after.status, "Cancelled")
    }
  }, sequenceProps)

  it.prop("folding an order's history at once equals the state built step by step", [orderCommands], ([commands]) => {
    const { states, histories } = simulate(commands)
    for (const [orderId, history] of histories) {
      assert.deepStrictEqual(fold(Order.decider, history), states.get(orderId))
      assert.isAtMost(history.filter((e) => e._tag === "OrderPlaced").length, 1, "placed once")
      assert.isAtMost(history.filter((e) => e._tag !== "OrderPlaced").length, 1, "confirmed or cancelled, once")
    }
  }, sequenceProps)

  it.prop("deciding a satisfied command again decides nothing; a rejection repeats", [orderCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isFailure(decision)) assert.deepStrictEqual(Order.decide(command, before), decision)
      else assert.deepStrictEqual(Order.decide(command, after), Result.succeed([]), `${command._tag} again`)
    }
  }, sequenceProps)

  it.prop("evolve is total: any event in any reachable state gives a valid state", [orderCommands, Order.OrderEvent], ([commands, event]) => {
    for (const state of [Order.initialState, ...simulate(commands).states.values()]) {
      assert.isTrue(isOrderState(Order.evolve(state, event)))
    }
  }, sequenceProps)

  it.prop("events survive the store's encode and decode", [Order.OrderEvent], ([event]) => {
    assert.deepStrictEqual(storedAndRead(orderCodec, event), [event])
  }, props)
})
