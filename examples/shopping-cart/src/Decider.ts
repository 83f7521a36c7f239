/**
 * The Decider shape this example's aggregates are written against: `decide` turns a command and the state
 * into events (or a typed rejection), `evolve` folds one event into the state. Pure and total. The event
 * store's command handler takes any value of this shape; `fold` and `step` are the two ways to run one.
 */
import { Result } from "effect"

export interface Decider<Command, Event, State, Rejection> {
  readonly initialState: State
  readonly decide: (command: Command, state: State) => Result.Result<ReadonlyArray<Event>, Rejection>
  readonly evolve: (state: State, event: Event) => State
}

/** Folds `events` into a state, starting from `from` (default: the decider's initial state). */
export const fold = <Command, Event, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  events: Iterable<Event>,
  from: State = decider.initialState
): State => {
  let state = from
  for (const event of events) state = decider.evolve(state, event)
  return state
}

/** Decides on `state` and, when accepted, also returns the state after the new events. */
export const step = <Command, Event, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  state: State,
  command: Command
): Result.Result<{ readonly events: ReadonlyArray<Event>; readonly state: State }, Rejection> =>
  Result.map(decider.decide(command, state), (events) => ({ events, state: fold(decider, events, state) }))
