/**
 * The generic Decider helpers on a tiny counter decider: fold (from the initial state or a given one),
 * decideOn (fold then decide) and step (decide then fold the new events).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decideOn, type Decider, fold, step } from "../src/Decider.ts"

type Command = { readonly add: number }
type Event = { readonly added: number }
const counter: Decider<Command, Event, number, "Negative"> = {
  initialState: 0,
  decide: (command, state) =>
    command.add === 0
      ? Result.succeed([])
      : state + command.add < 0
      ? Result.fail("Negative")
      : Result.succeed([{ added: command.add }]),
  evolve: (state, event) => state + event.added
}

describe("Decider", () => {
  it("fold starts from the initial state, or from the given one", () => {
    assert.strictEqual(fold(counter, []), 0)
    assert.strictEqual(fold(counter, [{ added: 2 }, { added: 3 }]), 5)
    assert.strictEqual(fold(counter, [{ added: 2 }], 10), 12)
  })
  it("decideOn folds the past events, then decides", () => {
    assert.deepStrictEqual(decideOn(counter, [{ added: 2 }], { add: -2 }), Result.succeed([{ added: -2 }]))
    assert.deepStrictEqual(decideOn(counter, [{ added: 2 }], { add: -3 }), Result.fail("Negative" as const))
  })
  it("step returns the new events and the state after them, or the rejection", () => {
    assert.deepStrictEqual(step(counter, 1, { add: 4 }), Result.succeed({ events: [{ added: 4 }], state: 5 }))
    assert.deepStrictEqual(step(counter, 1, { add: 0 }), Result.succeed({ events: [], state: 1 }))
    assert.deepStrictEqual(step(counter, 1, { add: -4 }), Result.fail("Negative" as const))
  })
})
