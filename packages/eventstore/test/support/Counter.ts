/** A tiny counter domain with a history of schema versions, shared by the command-handler tests. */
import { Result, Schema } from "effect"
import { type CommandHandler, EventCodec } from "../../src/index.ts"

export const Incremented = Schema.TaggedStruct("Incremented", { by: Schema.Int })
export const Reset = Schema.TaggedStruct("Reset", {})
export const CounterEvent = Schema.Union([Incremented, Reset])
export type CounterEvent = typeof CounterEvent.Type

export const State = Schema.Struct({ count: Schema.Int, resets: Schema.Int })
export type State = typeof State.Type

export type Command = { readonly _tag: "Increment"; readonly by: number } | { readonly _tag: "Reset" }

export class NotPositive extends Schema.TaggedError<NotPositive>()("NotPositive", { by: Schema.Number }) {}

export const decider: CommandHandler.Decider<Command, CounterEvent, State, NotPositive> = {
  initialState: { count: 0, resets: 0 },
  decide: (command, state) => {
    switch (command._tag) {
      case "Increment":
        return command.by > 0 ? Result.succeed([Incremented.make({ by: command.by })]) : Result.fail(new NotPositive({ by: command.by }))
      case "Reset":
        return Result.succeed(state.count === 0 ? [] : [Reset.make({})])
    }
  },
  evolve: (state, e) => (e._tag === "Incremented" ? { ...state, count: state.count + e.by } : { count: 0, resets: state.resets + 1 })
}

export const codec = EventCodec.make({
  schema: CounterEvent,
  versions: { Incremented: 3, Reset: 1 },
  upcasters: [
    // v1 stored the increment as a decimal string
    EventCodec.upcaster<{ readonly amount: string }>("Incremented", 1, (data) => ({
      type: "Incremented",
      schemaVersion: 2,
      data: { step: Number.parseInt(data.amount, 10) }
    })),
    // v2 called the field `step`
    EventCodec.upcaster<{ readonly step: number }>("Incremented", 2, (data) => ({
      type: "Incremented",
      schemaVersion: 3,
      data: { by: data.step }
    })),
    // a retired event type that meant two increments: split and renamed
    EventCodec.upcaster<{ readonly each: number }>("IncrementedTwice", 1, (data) => [
      { type: "Incremented", schemaVersion: 3, data: { by: data.each } },
      { type: "Incremented", schemaVersion: 3, data: { by: data.each } }
    ])
  ]
})
