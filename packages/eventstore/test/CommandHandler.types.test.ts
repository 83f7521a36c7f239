/**
 * Type-level tests (checked by `tsc` in the typecheck task and run by vitest): a decider's command and
 * event unions flow into `CommandHandler.make`'s `handle` (a wrong command does not compile), its typed
 * error union is the decider's rejection plus the handler's errors, and `EventStore.append` fails with
 * exactly the store's append errors.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Effect } from "effect"
import {
  CommandHandler,
  type DuplicateEventId,
  type EventStore,
  type InvalidEvent,
  type InvalidStreamName,
  type PersonalDataError,
  type StoreUnavailable,
  type StreamTombstoned,
  type SubjectForgotten,
  type WrongExpectedVersion
} from "../src/index.ts"
import { codec, type Command, type CounterEvent, decider, type NotPositive, type State } from "./support/Counter.ts"

const handler = CommandHandler.make({ category: "counter", decider, codec })
type HandleEffect = ReturnType<typeof handler.handle>

describe("CommandHandler types", () => {
  it("handle takes the decider's commands and nothing else", () => {
    expectTypeOf(handler.handle).parameter(1).toEqualTypeOf<Command>()
    // @ts-expect-error a command the decider does not know
    handler.handle("1", { _tag: "Decrement", by: 1 })
    // @ts-expect-error a known command with a wrong field type
    handler.handle("1", { _tag: "Increment", by: "1" })
  })

  it("handle answers with the decider's events and state", () => {
    expectTypeOf<Effect.Success<HandleEffect>["events"]>().toEqualTypeOf<ReadonlyArray<CounterEvent>>()
    expectTypeOf<Effect.Success<HandleEffect>["state"]>().toEqualTypeOf<State>()
  })

  it("handle fails with the decider's rejection or the handler's errors", () => {
    expectTypeOf<Effect.Error<HandleEffect>>().toEqualTypeOf<CommandHandler.HandleError<NotPositive>>()
    expectTypeOf<NotPositive>().toExtend<Effect.Error<HandleEffect>>()
    expectTypeOf<Effect.Services<HandleEffect>>().toEqualTypeOf<EventStore>()
  })

  it("a decider whose events the codec does not encode is rejected", () => {
    const strings = { initialState: 0, decide: () => ({}) as never, evolve: (s: number, _e: string) => s }
    // @ts-expect-error the codec encodes counter events, the decider evolves strings
    CommandHandler.make({ category: "counter", decider: strings, codec })
  })
})

describe("EventStore types", () => {
  it("append fails with exactly the append errors", () => {
    type AppendEffect = ReturnType<EventStore["Service"]["append"]>
    expectTypeOf<Effect.Error<AppendEffect>>().toEqualTypeOf<
      | WrongExpectedVersion
      | StreamTombstoned
      | InvalidStreamName
      | InvalidEvent
      | DuplicateEventId
      | StoreUnavailable
      | SubjectForgotten
      | PersonalDataError
    >()
  })
})
