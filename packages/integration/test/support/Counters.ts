/**
 * A tiny aggregate for the command service tests: a counter whose `Increment` must be positive (the
 * `NotPositive` rejection), bound to a command bus of its own.
 */
import { CommandBus, CommandHandler, EventCodec } from "@verity/eventstore"
import { Result, Schema } from "effect"

export const Increment = Schema.TaggedStruct("Increment", { counterId: Schema.String, by: Schema.Int })
export const Reset = Schema.TaggedStruct("Reset", { counterId: Schema.String })
export const CounterCommand = Schema.Union([Increment, Reset])
export type CounterCommand = typeof CounterCommand.Type

export const Incremented = Schema.TaggedStruct("Incremented", { by: Schema.Int })
export const WasReset = Schema.TaggedStruct("WasReset", {})
export const CounterEvent = Schema.Union([Incremented, WasReset])
export type CounterEvent = typeof CounterEvent.Type

export class NotPositive extends Schema.TaggedError<NotPositive>()("NotPositive", { counterId: Schema.String, by: Schema.Int }) {}

const decider: CommandHandler.Decider<CounterCommand, CounterEvent, number, NotPositive> = {
  initialState: 0,
  decide: (command, count) => {
    switch (command._tag) {
      case "Increment":
        return command.by > 0
          ? Result.succeed([Incremented.make({ by: command.by })])
          : Result.fail(new NotPositive({ counterId: command.counterId, by: command.by }))
      case "Reset":
        return Result.succeed(count === 0 ? [] : [WasReset.make({})])
    }
  },
  evolve: (count, event) => (event._tag === "Incremented" ? count + event.by : 0)
}

/** Counters in the category `category` (unique per test). */
export const bus = (category: string) => {
  const handler = CommandHandler.make({
    category,
    decider,
    codec: EventCodec.make({ schema: CounterEvent, versions: { Incremented: 1, WasReset: 1 } })
  })
  return CommandBus.make([CommandBus.register({ schema: CounterCommand, handler, streamOf: (command) => command.counterId })])
}
