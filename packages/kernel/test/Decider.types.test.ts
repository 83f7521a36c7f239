/**
 * Type-level tests of the Decider helpers (checked by `tsc` in the typecheck task and run by vitest): the
 * state type of `fold` is the decider's, `decideOn` and `step` carry the event and rejection types, and a
 * command or event of another decider does not compile.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Result } from "effect"
import { decideOn, type Decider, fold, step } from "../src/Decider.ts"

type Command = { readonly _tag: "Add"; readonly n: number } | { readonly _tag: "Clear" }
type Event = { readonly _tag: "Added"; readonly n: number } | { readonly _tag: "Cleared" }
interface State {
  readonly total: number
}
type Rejection = { readonly _tag: "TooLarge" }

const decider: Decider<Command, Event, State, Rejection> = {
  initialState: { total: 0 },
  decide: (command) =>
    command._tag === "Clear"
      ? Result.succeed([{ _tag: "Cleared" }])
      : command.n > 100
      ? Result.fail({ _tag: "TooLarge" })
      : Result.succeed([{ _tag: "Added", n: command.n }]),
  evolve: (state, event) => (event._tag === "Added" ? { total: state.total + event.n } : { total: 0 })
}

describe("Decider types", () => {
  it("fold returns the decider's state type", () => {
    expectTypeOf(fold(decider, [{ _tag: "Added", n: 1 }])).toEqualTypeOf<State>()
    // @ts-expect-error an event of another shape is not one of this decider's events
    fold(decider, [{ _tag: "Removed", n: 1 }])
  })

  it("decideOn gives the events or the rejection", () => {
    expectTypeOf(decideOn(decider, [], { _tag: "Clear" })).toEqualTypeOf<Result.Result<ReadonlyArray<Event>, Rejection>>()
    // @ts-expect-error a command of another shape is not one of this decider's commands
    decideOn(decider, [], { _tag: "Multiply", n: 2 })
  })

  it("step gives the events and the state after them", () => {
    expectTypeOf(step(decider, decider.initialState, { _tag: "Add", n: 1 })).toEqualTypeOf<
      Result.Result<{ readonly events: ReadonlyArray<Event>; readonly state: State }, Rejection>
    >()
  })
})
