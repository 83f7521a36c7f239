/**
 * Type-level tests of the command bus (checked by `tsc` in the typecheck task and run by vitest): a
 * dispatched command's result and errors are those of its own aggregate, a command no aggregate knows does
 * not compile, and only a dispatch with an idempotency key needs `CommandResults` or can find its key reused.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Effect } from "effect"
import type { CommandHandler, CommandResults, EventStore, IdempotencyKeyReused, InvalidCommand } from "../src/index.ts"
import { bus, type CounterCommand, type NeverOn, type SwitchEvent, type SwitchState } from "./support/Bus.ts"
import type { CounterEvent, NotPositive, State } from "./support/Counter.ts"

const increment = bus.dispatch({ _tag: "Increment", counterId: "c", by: 1 })
const turnOn = bus.dispatch({ _tag: "TurnOn", switchId: "s" })
const keyed = bus.dispatch({ _tag: "TurnOn", switchId: "s" }, { idempotencyKey: "k" })

describe("CommandBus types", () => {
  it("a counter command answers the counter's events, state and rejection", () => {
    expectTypeOf<Effect.Success<typeof increment>["events"]>().toEqualTypeOf<ReadonlyArray<CounterEvent>>()
    expectTypeOf<Effect.Success<typeof increment>["state"]>().toEqualTypeOf<State>()
    expectTypeOf<Effect.Error<typeof increment>>().toEqualTypeOf<CommandHandler.HandleError<NotPositive>>()
  })

  it("a switch command answers the switch's events, state and rejection", () => {
    expectTypeOf<Effect.Success<typeof turnOn>["events"]>().toEqualTypeOf<ReadonlyArray<SwitchEvent>>()
    expectTypeOf<Effect.Success<typeof turnOn>["state"]>().toEqualTypeOf<SwitchState>()
    expectTypeOf<Effect.Error<typeof turnOn>>().toEqualTypeOf<CommandHandler.HandleError<NeverOn>>()
    expectTypeOf<NotPositive>().not.toExtend<Effect.Error<typeof turnOn>>()
  })

  it("only a keyed dispatch needs CommandResults and can find its key reused", () => {
    expectTypeOf<Effect.Services<typeof turnOn>>().toEqualTypeOf<EventStore>()
    expectTypeOf<Effect.Services<typeof keyed>>().toEqualTypeOf<EventStore | CommandResults>()
    expectTypeOf<Effect.Error<typeof keyed>>().toEqualTypeOf<CommandHandler.HandleError<NeverOn> | IdempotencyKeyReused>()
  })

  it("a command of either aggregate, unknown at compile time, answers either result", () => {
    const either = (command: CounterCommand | { readonly _tag: "TurnOff"; readonly switchId: string }) => bus.dispatch(command)
    expectTypeOf<Effect.Success<ReturnType<typeof either>>["events"]>().toEqualTypeOf<
      ReadonlyArray<CounterEvent> | ReadonlyArray<SwitchEvent>
    >()
    expectTypeOf<Effect.Error<ReturnType<typeof either>>>().toEqualTypeOf<
      CommandHandler.HandleError<NotPositive> | CommandHandler.HandleError<NeverOn>
    >()
  })

  it("dispatchUnknown can fail with InvalidCommand", () => {
    type Unknown = ReturnType<typeof bus.dispatchUnknown>
    expectTypeOf<InvalidCommand>().toExtend<Effect.Error<Unknown>>()
    expectTypeOf<NeverOn | NotPositive>().toExtend<Effect.Error<Unknown>>()
  })

  it("commands no aggregate knows do not compile", () => {
    // @ts-expect-error no aggregate has this command
    bus.dispatch({ _tag: "Explode", counterId: "c" })
    // @ts-expect-error a known command with a wrong field type
    bus.dispatch({ _tag: "Increment", counterId: "c", by: "1" })
    // @ts-expect-error a switch command naming a counter
    bus.dispatch({ _tag: "TurnOn", counterId: "c" })
  })
})
