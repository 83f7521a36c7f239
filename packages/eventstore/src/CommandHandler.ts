/**
 * The one generic command handler: load (snapshot + tail) -> fold -> decide -> append at the loaded version.
 *
 * - A version conflict means someone else wrote in between: the handler reloads and decides again, up to
 *   `maxAttempts` times with jittered exponential backoff, unless the caller pinned `expectedVersion`
 *   (an HTTP `If-Match`), in which case the conflict is the answer.
 * - A database failure during the append is retried with the SAME events (same ids): if the first attempt
 *   did commit, the store recognises the ids and returns the original result, so nothing is applied twice.
 * - Snapshots are a cache: taken every `snapshot.every` events, ignored when their key or shape no longer
 *   matches, and never needed for a correct answer.
 */
import { Effect, Option, Result, Schedule, Schema } from "effect"
import type { EventCodec } from "./EventCodec.ts"
import * as EventId from "./EventId.ts"
import type {
  DuplicateEventId,
  EventDecodeError,
  InvalidEvent,
  InvalidStreamName,
  PersonalDataError,
  StoreUnavailable,
  StreamTombstoned,
  SubjectForgotten
} from "./Errors.ts"
import { WrongExpectedVersion } from "./Errors.ts"
import type { AppendResult, EventMetadata, NewEvent, RecordedEvent } from "./Events.ts"
import { EventStore } from "./EventStore.ts"

/** The Decider: pure, synchronous domain logic (the same shape as `@verity/domain`'s, matched structurally). */
export interface Decider<Command, Event, State, Rejection> {
  readonly initialState: State
  readonly decide: (command: Command, state: State) => Result.Result<ReadonlyArray<Event>, Rejection>
  readonly evolve: (state: State, event: Event) => State
}

export interface SnapshotPolicy<State> {
  /**
   * Names the shape of the state and the evolve function that built it. Change it whenever either changes:
   * snapshots under another key are ignored (and replaced), so a changed decider never reads a stale state.
   */
  readonly key: string
  /** Encodes the state to JSON and back. */
  readonly schema: Schema.Codec<State, unknown>
  /** Take a snapshot whenever the stream crosses a multiple of this many events. */
  readonly every: number
}

export interface Aggregate<Command, Event, State, Rejection> {
  /** Stream category: the aggregate `id` lives in stream `<category>-<id>`. */
  readonly category: string
  readonly decider: Decider<Command, Event, State, Rejection>
  readonly codec: EventCodec<Event>
  readonly snapshot?: SnapshotPolicy<State>
}

export interface Loaded<State> {
  readonly state: State
  /** The stream version the state reflects (0 for a new aggregate). */
  readonly version: number
}

export interface HandleOptions {
  /** Decide only against this version and append only on top of it; a mismatch fails at once. */
  readonly expectedVersion?: number
  readonly metadata?: EventMetadata
  /** Most load-decide-append rounds when writers race (default 10). */
  readonly maxAttempts?: number
}

export interface Handled<Event, State> {
  /** What the command decided (empty when its effect was already there). */
  readonly events: ReadonlyArray<Event>
  readonly state: State
  /** The stream version after the command. */
  readonly version: number
  /** The append, when events were written. */
  readonly appended: Option.Option<AppendResult>
}

export type LoadError = InvalidStreamName | StoreUnavailable | EventDecodeError | StreamTombstoned | PersonalDataError

export type HandleError<Rejection> =
  | Rejection
  | LoadError
  | WrongExpectedVersion
  | InvalidEvent
  | DuplicateEventId
  | SubjectForgotten

export interface CommandHandler<Command, Event, State, Rejection> {
  readonly aggregate: Aggregate<Command, Event, State, Rejection>
  readonly streamOf: (id: string) => string
  readonly load: (id: string) => Effect.Effect<Loaded<State>, LoadError, EventStore>
  /** The state as of a version or an instant (time travel); events after it are ignored. */
  readonly loadAt: (
    id: string,
    at: { readonly version?: number; readonly asOf?: Date }
  ) => Effect.Effect<Loaded<State>, LoadError, EventStore>
  readonly handle: (
    id: string,
    command: Command,
    options?: HandleOptions
  ) => Effect.Effect<Handled<Event, State>, HandleError<Rejection>, EventStore>
}

const conflictRetry = Schedule.exponential("5 millis", 2).pipe(Schedule.jittered)
const unavailableRetry = Schedule.exponential("50 millis", 2).pipe(Schedule.jittered)

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>
): CommandHandler<Command, Event, State, Rejection> => {
  const { codec, decider } = aggregate
  const streamOf = (id: string) => `${aggregate.category}-${id}`
  const snapshot = aggregate.snapshot
  const snapshotCodec = snapshot === undefined ? undefined : Schema.toCodecJson(snapshot.schema)
  const decodeSnapshot = snapshotCodec === undefined ? undefined : Schema.decodeUnknownResult(snapshotCodec)
  const encodeSnapshot = snapshotCodec === undefined ? undefined : Schema.encodeUnknownResult(snapshotCodec)

  const fold = (state: State, events: ReadonlyArray<Event>): State => {
    let current = state
    for (const event of events) current = decider.evolve(current, event)
    return current
  }

  const foldRecorded = (state: State, recorded: ReadonlyArray<RecordedEvent>) =>
    Effect.map(codec.decodeAll(recorded), (events) => fold(state, events))

  const readAll = (stream: string, options?: { readonly toVersion?: number; readonly asOf?: Date }) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const recorded = yield* store.readStream(stream, options).pipe(
        Effect.catchTag("StreamNotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([]))
      )
      const state = yield* foldRecorded(decider.initialState, recorded)
      return { state, version: recorded.length === 0 ? 0 : recorded[recorded.length - 1]!.version }
    })

  const load = (id: string): Effect.Effect<Loaded<State>, LoadError, EventStore> => {
    const stream = streamOf(id)
    if (snapshot === undefined || decodeSnapshot === undefined) return readAll(stream)
    return Effect.gen(function*() {
      const store = yield* EventStore
      const found = yield* store.readStreamWithSnapshot(stream, snapshot.key).pipe(
        Effect.map(Option.some),
        Effect.catchTag("StreamNotFound", () => Effect.succeed(Option.none()))
      )
      if (Option.isNone(found)) return { state: decider.initialState, version: 0 }
      const { events, snapshot: saved, version } = found.value
      let start = decider.initialState
      if (Option.isSome(saved)) {
        const decoded = decodeSnapshot(saved.value.state)
        // A snapshot that no longer decodes is a stale cache entry: fold from the first event instead.
        if (Result.isFailure(decoded)) return yield* readAll(stream)
        start = decoded.success
      }
      const state = yield* foldRecorded(start, events)
      return { state, version }
    })
  }

  const loadAt = (id: string, at: { readonly version?: number; readonly asOf?: Date }) => {
    const options: { toVersion?: number; asOf?: Date } = {}
    if (at.version !== undefined) options.toVersion = at.version
    if (at.asOf !== undefined) options.asOf = at.asOf
    return readAll(streamOf(id), options)
  }

  const saveSnapshot = (stream: string, before: number, after: number, state: State) => {
    if (snapshot === undefined || encodeSnapshot === undefined) return Effect.void
    if (Math.floor(after / snapshot.every) === Math.floor(before / snapshot.every)) return Effect.void
    const encoded = encodeSnapshot(state)
    if (Result.isFailure(encoded)) return Effect.logWarning("snapshot state does not encode", encoded.failure.message)
    return Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.saveSnapshot({ streamId: stream, key: snapshot.key, version: after, state: encoded.success }).pipe(
        // A snapshot is only a cache: failing to write one must not fail the command.
        Effect.catch((error) => Effect.logWarning("snapshot not saved", error.message))
      )
    })
  }

  const attempt = (id: string, command: Command, options: HandleOptions) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const stream = streamOf(id)
      const loaded = yield* load(id)
      if (options.expectedVersion !== undefined && loaded.version !== options.expectedVersion) {
        return yield* new WrongExpectedVersion({ stream, expected: options.expectedVersion, actual: loaded.version })
      }
      const decided = yield* Effect.fromResult(decider.decide(command, loaded.state))
      if (decided.length === 0) {
        return { events: decided, state: loaded.state, version: loaded.version, appended: Option.none() }
      }
      const now = Date.now()
      const newEvents: Array<NewEvent> = decided.map((event) => {
        const encoded = codec.encode(event)
        return { eventId: EventId.make(now), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
      })
      const appendOptions = options.metadata === undefined ? undefined : { metadata: options.metadata }
      const appended = yield* store.append(stream, loaded.version === 0 ? "no_stream" : loaded.version, newEvents, appendOptions)
        .pipe(
          Effect.retry({ schedule: unavailableRetry, times: 4, while: (error) => error._tag === "StoreUnavailable" && error.retryable })
        )
      const state = fold(loaded.state, decided)
      yield* saveSnapshot(stream, loaded.version, appended.version, state)
      return { events: decided, state, version: appended.version, appended: Option.some(appended) }
    })

  const handle = (id: string, command: Command, options: HandleOptions = {}) => {
    const maxAttempts = Math.max(1, options.maxAttempts ?? 10)
    return attempt(id, command, options).pipe(
      Effect.retry({
        schedule: conflictRetry,
        times: maxAttempts - 1,
        while: (error) =>
          options.expectedVersion === undefined &&
          typeof error === "object" && error !== null && "_tag" in error && error._tag === "WrongExpectedVersion"
      }),
      Effect.withSpan("CommandHandler.handle", { attributes: { category: aggregate.category, id } })
    )
  }

  return { aggregate, streamOf, load, loadAt, handle }
}
