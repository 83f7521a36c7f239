/**
 * Two tiny aggregates bound to one command bus, shared by the command-bus tests: the counter (its commands
 * now name their counter) and a switch with its own events, state and rejection.
 */
import { Result, Schema } from "effect"
import { CommandBus, CommandHandler, EventCodec } from "../../src/index.ts"
import { codec as counterCodec, type CounterEvent, decider as counterDecider, type NotPositive, type State } from "./Counter.ts"

export const Increment = Schema.TaggedStruct("Increment", { counterId: Schema.String, by: Schema.Int })
export const Reset = Schema.TaggedStruct("Reset", { counterId: Schema.String })
export const CounterCommand = Schema.Union([Increment, Reset])
export type CounterCommand = typeof CounterCommand.Type

export const SwitchedOn = Schema.TaggedStruct("SwitchedOn", {})
export const SwitchedOff = Schema.TaggedStruct("SwitchedOff", {})
export const SwitchEvent = Schema.Union([SwitchedOn, SwitchedOff])
export type SwitchEvent = typeof SwitchEvent.Type

export const TurnOn = Schema.TaggedStruct("TurnOn", { switchId: Schema.String })
export const TurnOff = Schema.TaggedStruct("TurnOff", { switchId: Schema.String })
export const SwitchCommand = Schema.Union([TurnOn, TurnOff])
export type SwitchCommand = typeof SwitchCommand.Type

export interface SwitchState {
  readonly on: boolean
  readonly flips: number
}

/** Turning off a switch that was never on. */
export class NeverOn extends Schema.TaggedError<NeverOn>()("NeverOn", { switchId: Schema.String }) {}

const switchDecider: CommandHandler.Decider<SwitchCommand, SwitchEvent, SwitchState, NeverOn> = {
  initialState: { on: false, flips: 0 },
  decide: (command, state) => {
    switch (command._tag) {
      case "TurnOn":
        return Result.succeed(state.on ? [] : [SwitchedOn.make({})])
      case "TurnOff":
        if (state.flips === 0) return Result.fail(new NeverOn({ switchId: command.switchId }))
        return Result.succeed(state.on ? [SwitchedOff.make({})] : [])
    }
  },
  evolve: (state, event) => ({ on: event._tag === "SwitchedOn", flips: state.flips + 1 })
}

const switchCodec = EventCodec.make({ schema: SwitchEvent, versions: { SwitchedOn: 1, SwitchedOff: 1 } })

// The counter's decider reads only `_tag` and `by`: it decides the bus's commands, which also name the counter.
const counterOfBus: CommandHandler.Decider<CounterCommand, CounterEvent, State, NotPositive> = counterDecider

export const Counters = CommandHandler.make({ category: "counter", decider: counterOfBus, codec: counterCodec })
export const Switches = CommandHandler.make({ category: "switch", decider: switchDecider, codec: switchCodec })

export const bus = CommandBus.make([
  CommandBus.register({ schema: CounterCommand, handler: Counters, streamOf: (command) => command.counterId }),
  CommandBus.register({ schema: SwitchCommand, handler: Switches, streamOf: (command) => command.switchId })
])
