/**
 * The Decider: an aggregate as plain data. `decide` turns a command and the current state into the events
 * to append (or a typed rejection); `evolve` folds one event into the state. Both are pure and total;
 * time and ids come in the command. The domain's aggregates are Deciders and the event store's generic
 * command handler runs them; both import this one definition.
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

/** Folds the stream's past events, then decides the command on the resulting state. */
export const decideOn = <Command, Event, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  pastEvents: Iterable<Event>,
  command: Command
): Result.Result<ReadonlyArray<Event>, Rejection> => decider.decide(command, fold(decider, pastEvents))

/** Decides on `state` and, when accepted, also returns the state after the new events. */
export const step = <Command, Event, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  state: State,
  command: Command
): Result.Result<{ readonly events: ReadonlyArray<Event>; readonly state: State }, Rejection> =>
  Result.map(decider.decide(command, state), (events) => ({ events, state: fold(decider, events, state) }))
