/**
 * The one generic command handler: load (snapshot + tail) -> fold -> decide -> append at the loaded version.
 *
 * Hot streams queue instead of racing. Inside one process, the commands for one stream (per store
 * instance) wait in a per-stream queue; a single fiber takes everything queued, decides it IN ORDER on the
 * folded state (each command sees the state after the events of the ones before it) and appends all their
 * events in ONE statement: one optimistic-concurrency check for the whole batch. So one process never
 * conflicts with itself, and a hot stream costs one load and one append per batch instead of one per command.
 * - A command the decider rejects, or whose own expected version (`If-Match`) is not the version it would
 *   be decided at, fails alone; the others of its batch go on. Every caller gets its own result (its own
 *   version and positions), delivered only after the batch committed.
 * - A version conflict means another process (or a caller's transaction) wrote in between. The batch is
 *   then decided again in a transaction of its own that first locks the stream's row, so it queues behind
 *   those writers in the database and loads what they committed instead of losing the race again. Within a
 *   bounded budget (`maxAttempts`, jittered exponential backoff; only a stream created concurrently can
 *   still conflict once locked), then every command of it fails with `WrongExpectedVersion` (an HTTP API
 *   answers 409 with `Retry-After`).
 * - An append failure that may belong to one command's events (invalid event, forgotten subject) re-runs the
 *   batch one command at a time, so only the offending command fails.
 * - A command running inside the caller's transaction (the store's `lockStream` says so) never joins a batch:
 *   its events must commit or roll back with that transaction. It locks the stream's row first (other writers
 *   of the stream wait for the transaction instead of racing it), then loads, decides and appends in the
 *   caller's fiber.
 * - A database failure during the append is retried with the SAME events (same ids): if the first attempt
 *   did commit, the store recognises the ids and returns the original result, so nothing is applied twice.
 * - Optional committed-state cache (`cache`): the state and version after the last batch this process
 *   committed, so a hot stream is not refolded per batch. It is only a guess: the append's version check
 *   protects it, and on any conflict or failure the entry is dropped and the stream reloaded.
 * - Snapshots are a cache: taken every `snapshot.every` events, ignored when their key or shape no longer
 *   matches, and never needed for a correct answer.
 *
 * This module holds the public shapes and `make`; the parts live in command-handler/: `StreamQueue` (the
 * per-stream queues), `Batch` (deciding and appending a batch), `InTransaction` (a command inside the
 * caller's transaction), `StreamState` (load and snapshots), `StateCacheStore` (the cache), `Retry` (policy).
 */
import type { Decider as Kernel } from "@verity/kernel"
import { Effect } from "effect"
import type { Option, Schema } from "effect"
import * as Batch from "./command-handler/Batch.ts"
import * as InTransaction from "./command-handler/InTransaction.ts"
import { DEFAULT_BATCH } from "./command-handler/Retry.ts"
import * as StateCacheStore from "./command-handler/StateCacheStore.ts"
import * as StreamQueue from "./command-handler/StreamQueue.ts"
import * as StreamState from "./command-handler/StreamState.ts"
import type {
  DuplicateEventId,
  EventDecodeError,
  InvalidEvent,
  InvalidStreamName,
  PersonalDataError,
  StoreUnavailable,
  StreamTombstoned,
  SubjectForgotten,
  WrongExpectedVersion
} from "./Errors.ts"
import type { EventCodec } from "./EventCodec.ts"
import type { AppendResult, EventMetadata } from "./Events.ts"
import { EventStore } from "./EventStore.ts"

/** The Decider: pure, synchronous domain logic, as the shared kernel defines it. */
export type Decider<Command, Event, State, Rejection> = Kernel.Decider<Command, Event, State, Rejection>

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
  /** Keep the committed state of recently written streams in memory (see `StateCache`). */
  readonly cache?: StateCache<Command, State>
  /** Most commands decided and appended together (default 100). */
  readonly maxBatch?: number
}

/**
 * The committed-state cache: per store instance, the state and version of the streams this process wrote
 * last (least recently written dropped first). Safe across processes because a batch appends at the cached
 * version: if anyone else wrote, the append conflicts, the entry is dropped and the stream reloaded.
 */
export interface StateCache<Command, State> {
  /** Streams kept (default 10,000). */
  readonly capacity?: number
  /**
   * What to keep of a state (e.g. without personal data, so none lingers in memory after an erasure).
   * Commands that need what it removes must be listed in `bypass`. A batch decided on a redacted state
   * never writes a snapshot: one crossing a snapshot boundary reloads first.
   */
  readonly redact?: (state: State) => State
  /** Commands that must be decided on a freshly loaded state (their batch ignores the cache). */
  readonly bypass?: (command: Command) => boolean
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
  /** The state after the command (as the cache keeps it, i.e. redacted, when decided on a cached state). */
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

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>
): CommandHandler<Command, Event, State, Rejection> => {
  const streamOf = (id: string) => `${aggregate.category}-${id}`
  const maxBatch = Math.max(1, aggregate.maxBatch ?? DEFAULT_BATCH)
  const cache = StateCacheStore.make(aggregate.cache)
  const streamState = StreamState.make(aggregate, streamOf)
  const { handleInTransaction } = InTransaction.make(aggregate, streamOf, streamState, cache)
  const { enqueue } = StreamQueue.make(streamOf, maxBatch, Batch.make(aggregate, streamOf, streamState, cache))

  const handle = (id: string, command: Command, options: HandleOptions = {}) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const inTransaction = yield* store.lockStream(streamOf(id))
      return yield* (inTransaction ? handleInTransaction(store, id, command, options) : enqueue(store, id, command, options))
    }).pipe(Effect.withSpan("CommandHandler.handle", { attributes: { category: aggregate.category, id } }))

  return { aggregate, streamOf, load: streamState.load, loadAt: streamState.loadAt, handle }
}
