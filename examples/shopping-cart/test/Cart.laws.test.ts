/**
 * Cart laws, checked on generated command sequences over a few carts and items (every command kind, valid
 * or not): each accepted decision has the command's effect once folded; a satisfied command decided again
 * adds nothing; rejections change nothing; evolve is total; events survive the store's encode/decode.
 */
import { assert, describe, it } from "@effect/vitest"
import { fold } from "@verity/kernel/Decider"
import { Result, Schema } from "effect"
import * as Cart from "../src/Cart.ts"
import { cartCodec } from "../src/Streams.ts"
import { MaxLines, MaxQuantity, totalOf } from "../src/Values.ts"
import { cartCommand, cartCommands, props, sequenceProps } from "./support/Arbitraries.ts"
import { storedAndRead } from "./support/Stored.ts"

interface Step {
  readonly command: Cart.CartCommand
  readonly before: Cart.CartState
  readonly decision: Cart.CartDecision
  readonly after: Cart.CartState
}

/** Runs commands against their own cart's state; returns each step and each cart's history. */
const simulate = (commands: ReadonlyArray<Cart.CartCommand>) => {
  const states = new Map<string, Cart.CartState>()
  const histories = new Map<string, Array<Cart.CartEvent>>()
  const steps: Array<Step> = []
  for (const command of commands) {
    const before = states.get(command.cartId) ?? Cart.initialState
    const decision = Cart.decide(command, before)
    const events = Result.isSuccess(decision) ? decision.success : []
    const after = fold(Cart.decider, events, before)
    states.set(command.cartId, after)
    histories.set(command.cartId, [...(histories.get(command.cartId) ?? []), ...events])
    steps.push({ command, before, decision, after })
  }
  return { steps, states, histories }
}

const quantityOf = (state: Cart.CartState, itemId: string) => Cart.linesOf(state).find((line) => line.itemId === itemId)?.quantity

/** Commands that decide nothing once their effect is there (AddItem adds again). */
const isIdempotent = (command: Cart.CartCommand) => command._tag !== "AddItem"

const isCartState = Schema.is(Cart.CartState)
const isRejection = Schema.is(Cart.CartRejection)

describe("Cart laws", () => {
  it.prop("an accepted command has its effect on the folded state", [cartCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isFailure(decision)) continue
      switch (command._tag) {
        case "OpenCart":
          assert.strictEqual(after.status, "Open")
          break
        case "AddItem":
          assert.strictEqual(quantityOf(after, command.itemId), (quantityOf(before, command.itemId) ?? 0) + command.quantity)
          break
        case "RemoveItem":
          assert.isUndefined(quantityOf(after, command.itemId))
          break
        case "ChangeQuantity":
          assert.strictEqual(quantityOf(after, command.itemId), command.quantity)
          break
        case "CheckOut": {
          assert.strictEqual(after.status, "CheckedOut")
          assert.deepStrictEqual(Cart.linesOf(after), Cart.linesOf(before), "checkout keeps the lines")
          const [event] = decision.success
          if (event?._tag === "CartCheckedOut") assert.strictEqual(event.total, totalOf(event.lines))
          break
        }
      }
    }
  }, sequenceProps)

  it.prop("folding a cart's history at once equals the state built step by step, and stays within bounds", [cartCommands], ([commands]) => {
    const { states, histories } = simulate(commands)
    for (const [cartId, history] of histories) {
      const folded = fold(Cart.decider, history)
      assert.deepStrictEqual(folded, states.get(cartId))
      assert.isTrue(isCartState(folded), "the state satisfies its schema")
      const lines = Cart.linesOf(folded)
      assert.isAtMost(lines.length, MaxLines)
      for (const line of lines) assert.isAtMost(line.quantity, MaxQuantity)
      if (folded.status === "CheckedOut") assert.isAbove(lines.length, 0, "a checked-out cart was never empty")
    }
  }, sequenceProps)

  it.prop("deciding a satisfied command again decides nothing; a rejection repeats", [cartCommands], ([commands]) => {
    for (const { command, before, decision, after } of simulate(commands).steps) {
      if (Result.isFailure(decision)) {
        assert.deepStrictEqual(Cart.decide(command, before), decision)
      } else if (isIdempotent(command)) {
        assert.deepStrictEqual(Cart.decide(command, after), Result.succeed([]), `${command._tag} again`)
      }
    }
  }, sequenceProps)

  it.prop("a rejected command is a CartRejection and leaves the state as it was", [cartCommands, cartCommand], ([commands, last]) => {
    const before = simulate(commands).states.get(last.cartId) ?? Cart.initialState
    const snapshot = structuredClone(before)
    const decision = Cart.decide(last, before)
    assert.deepStrictEqual(before, snapshot, "decide does not mutate the state")
    if (Result.isFailure(decision)) assert.isTrue(isRejection(decision.failure))
  }, sequenceProps)

  it.prop("evolve is total: any event in any reachable state gives a valid state", [cartCommands, Cart.CartEvent], ([commands, event]) => {
    for (const state of [Cart.initialState, ...simulate(commands).states.values()]) {
      assert.isTrue(isCartState(Cart.evolve(state, event)))
    }
  }, sequenceProps)

  describe("events survive the store's encode and decode", () => {
    it.prop("any event", [Cart.CartEvent], ([event]) => {
      assert.deepStrictEqual(storedAndRead(cartCodec, event), [event])
    }, props)
    it.prop("decided events", [cartCommands], ([commands]) => {
      for (const history of simulate(commands).histories.values()) {
        for (const event of history) assert.deepStrictEqual(storedAndRead(cartCodec, event), [event])
      }
    }, sequenceProps)
  })
})
