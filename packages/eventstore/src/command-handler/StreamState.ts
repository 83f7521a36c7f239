/**
 * Loading an aggregate's state and keeping its snapshots: read the stream (from the latest snapshot under
 * the aggregate's key when it has a snapshot policy), decode and fold the events, and save a snapshot when
 * a write crosses a multiple of `snapshot.every`. Snapshots are a cache: one whose key or shape no longer
 * matches is ignored, and failing to write one never fails a command.
 */
import { Decider } from "@verity/kernel"
import { Effect, Option, Result, Schema } from "effect"
import type { Aggregate, Loaded, LoadError } from "../CommandHandler.ts"
import type { RecordedEvent } from "../Events.ts"
import { EventStore } from "../EventStore.ts"

export interface StreamState<State> {
  readonly load: (id: string) => Effect.Effect<Loaded<State>, LoadError, EventStore>
  readonly loadAt: (
    id: string,
    at: { readonly version?: number; readonly asOf?: Date }
  ) => Effect.Effect<Loaded<State>, LoadError, EventStore>
  /** Whether going from version `before` to `after` crosses a snapshot boundary. */
  readonly crossesSnapshot: (before: number, after: number) => boolean
  /** Saves `state` (at version `after`) when the write from `before` crossed a snapshot boundary. */
  readonly saveSnapshot: (stream: string, before: number, after: number, state: State) => Effect.Effect<void, never, EventStore>
}

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>,
  streamOf: (id: string) => string
): StreamState<State> => {
  const { codec, decider } = aggregate
  const snapshot = aggregate.snapshot
  const snapshotCodec = snapshot === undefined ? undefined : Schema.toCodecJson(snapshot.schema)
  const decodeSnapshot = snapshotCodec === undefined ? undefined : Schema.decodeUnknownResult(snapshotCodec)
  const encodeSnapshot = snapshotCodec === undefined ? undefined : Schema.encodeUnknownResult(snapshotCodec)

  const foldRecorded = (state: State, recorded: ReadonlyArray<RecordedEvent>) =>
    Effect.map(codec.decodeAll(recorded), (events) => Decider.fold(decider, events, state))

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

  const crossesSnapshot = (before: number, after: number) =>
    snapshot !== undefined && Math.floor(after / snapshot.every) !== Math.floor(before / snapshot.every)

  const saveSnapshot = (stream: string, before: number, after: number, state: State): Effect.Effect<void, never, EventStore> => {
    if (snapshot === undefined || encodeSnapshot === undefined) return Effect.void
    if (!crossesSnapshot(before, after)) return Effect.void
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

  return { load, loadAt, crossesSnapshot, saveSnapshot }
}
