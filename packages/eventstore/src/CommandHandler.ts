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
 */
import { Deferred, Effect, Exit, Option, Result, Schedule, Schema } from "effect"
import * as Checkpoint from "./Checkpoint.ts"
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

const conflictRetry = Schedule.exponential("5 millis", 2).pipe(Schedule.jittered)
const unavailableRetry = Schedule.exponential("50 millis", 2).pipe(Schedule.jittered)

const DEFAULT_ATTEMPTS = 10
const DEFAULT_BATCH = 100
const DEFAULT_CACHE = 10_000

type Store = EventStore["Service"]

/** A command waiting in its stream's queue for the batch that decides it. */
interface Queued<Command, Event, State, Rejection> {
  readonly command: Command
  readonly options: HandleOptions
  readonly done: Deferred.Deferred<Handled<Event, State>, HandleError<Rejection>>
  /** Its caller stopped waiting before a batch took it: it is skipped, never decided. */
  cancelled: boolean
}

interface Lane<Command, Event, State, Rejection> {
  readonly queued: Array<Queued<Command, Event, State, Rejection>>
}

/** What deciding one command of a batch produced (applied only if the batch's append commits). */
type Plan<Event, State, Rejection> =
  | { readonly _tag: "Failed"; readonly error: HandleError<Rejection> }
  | {
    readonly _tag: "Decided"
    readonly events: ReadonlyArray<Event>
    readonly state: State
    readonly version: number
    /** Index of its first event in the batch's append. */
    readonly offset: number
  }

/** Append failures that may come from one command's events: the batch is re-run one command at a time. */
const commandSpecific: ReadonlySet<string> = new Set(["InvalidEvent", "SubjectForgotten", "DuplicateEventId"])

const isConflict = (error: unknown): error is WrongExpectedVersion =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "WrongExpectedVersion"

/** The checkpoint just after `position`, written by the same transaction as `result`. */
const checkpointAt = (result: AppendResult, position: bigint | undefined) => {
  if (position === undefined) return result.checkpoint
  const parts = Checkpoint.decode(result.checkpoint)
  return Result.isSuccess(parts) ? Checkpoint.make(parts.success.transactionId, position) : result.checkpoint
}

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>
): CommandHandler<Command, Event, State, Rejection> => {
  const { codec, decider } = aggregate
  const streamOf = (id: string) => `${aggregate.category}-${id}`
  const snapshot = aggregate.snapshot
  const snapshotCodec = snapshot === undefined ? undefined : Schema.toCodecJson(snapshot.schema)
  const decodeSnapshot = snapshotCodec === undefined ? undefined : Schema.decodeUnknownResult(snapshotCodec)
  const encodeSnapshot = snapshotCodec === undefined ? undefined : Schema.encodeUnknownResult(snapshotCodec)
  const maxBatch = Math.max(1, aggregate.maxBatch ?? DEFAULT_BATCH)
  const cachePolicy = aggregate.cache
  const cacheCapacity = Math.max(1, cachePolicy?.capacity ?? DEFAULT_CACHE)

  // Per store instance: two stores (two databases, or two runtimes standing for two processes) never share
  // a queue or a cached state.
  const lanes = new WeakMap<Store, Map<string, Lane<Command, Event, State, Rejection>>>()
  const caches = new WeakMap<Store, Map<string, Loaded<State>>>()

  const cacheOf = (store: Store) => {
    let cache = caches.get(store)
    if (cache === undefined) {
      cache = new Map()
      caches.set(store, cache)
    }
    return cache
  }
  const remember = (store: Store, stream: string, loaded: Loaded<State>) => {
    if (cachePolicy === undefined) return
    const cache = cacheOf(store)
    // Insertion order is recency order: an entry is re-inserted on every write.
    cache.delete(stream)
    if (cache.size >= cacheCapacity) cache.delete(cache.keys().next().value!)
    cache.set(stream, { state: cachePolicy.redact === undefined ? loaded.state : cachePolicy.redact(loaded.state), version: loaded.version })
  }
  const dropCached = (store: Store, stream: string) => {
    caches.get(store)?.delete(stream)
  }

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

  const crossesSnapshot = (before: number, after: number) =>
    snapshot !== undefined && Math.floor(after / snapshot.every) !== Math.floor(before / snapshot.every)

  const saveSnapshot = (stream: string, before: number, after: number, state: State) => {
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

  const encode = (decided: ReadonlyArray<Event>, metadata: EventMetadata | undefined): Array<NewEvent> => {
    const now = Date.now()
    return decided.map((event) => {
      const encoded = codec.encode(event)
      const base = { eventId: EventId.make(now), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
      // Metadata travels on each event: commands of one batch carry their own correlation, actor and key.
      return metadata === undefined ? base : { ...base, metadata }
    })
  }

  const appendRetrying = (store: Store, stream: string, expected: number, events: ReadonlyArray<NewEvent>, options?: { readonly metadata: EventMetadata }) =>
    store.append(stream, expected === 0 ? "no_stream" : expected, events, options).pipe(
      Effect.retry({ schedule: unavailableRetry, times: 4, while: (error) => error._tag === "StoreUnavailable" && error.retryable })
    )

  // --- inside the caller's transaction: one command, in the caller's fiber -------------------------------
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
      // No retry when the database fails here: the failed statement aborted the caller's transaction, so
      // only the caller can start over (a projection batch, an idempotent request).
      const appended = yield* store.append(
        stream,
        loaded.version === 0 ? "no_stream" : loaded.version,
        encode(decided, undefined),
        options.metadata === undefined ? undefined : { metadata: options.metadata }
      )
      const state = fold(loaded.state, decided)
      yield* saveSnapshot(stream, loaded.version, appended.version, state)
      return { events: decided, state, version: appended.version, appended: Option.some(appended) }
    })

  const handleInTransaction = (store: Store, id: string, command: Command, options: HandleOptions) => {
    const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_ATTEMPTS)
    return attempt(id, command, options).pipe(
      // The row lock makes a conflict rare here (only a stream created concurrently); it is retried the same.
      Effect.retry({
        schedule: conflictRetry,
        times: maxAttempts - 1,
        while: (error) => options.expectedVersion === undefined && isConflict(error)
      }),
      // Not committed yet (the caller's transaction may still roll back): the cache must not run ahead.
      Effect.ensuring(Effect.sync(() => dropCached(store, streamOf(id))))
    )
  }

  // --- batches: everything queued for one stream, decided in order, appended together ------------------------
  type Item = Queued<Command, Event, State, Rejection>
  type Outcome = Exit.Exit<Handled<Event, State>, HandleError<Rejection>>

  /**
   * One decide-and-append round of a batch; fails only with what fails the whole batch. Returns the
   * outcomes and the snapshot to save once the round committed. `locked`: the stream's row is locked by
   * the round's own transaction, so the state is loaded fresh (never from the cache).
   */
  const round = (store: Store, id: string, items: ReadonlyArray<Item>, locked: boolean) =>
    Effect.gen(function*() {
      const stream = streamOf(id)
      const cached = locked || items.some((item) => cachePolicy?.bypass?.(item.command) === true)
        ? undefined
        : caches.get(store)?.get(stream)
      let start = cached ?? (yield* load(id))
      let plans = decideAll(stream, start, items)
      if (cached !== undefined) {
        // Only an append checks the cached version. A batch that writes nothing (all rejected or no-ops)
        // must not answer from a state that may be stale, and a snapshot must hold the full state: in both
        // cases decide again on a fresh load.
        const writesNothing = plans.newEvents.length === 0
        const snapshotFromRedacted = cachePolicy?.redact !== undefined && crossesSnapshot(start.version, plans.version)
        if (writesNothing || snapshotFromRedacted) {
          start = yield* load(id)
          plans = decideAll(stream, start, items)
        }
      }
      const newEvents = plans.newEvents
      if (newEvents.length === 0) {
        remember(store, stream, start)
        const outcomes = plans.plans.map((plan): Outcome =>
          plan._tag === "Failed"
            ? Exit.fail(plan.error)
            : Exit.succeed({ events: plan.events, state: plan.state, version: plan.version, appended: Option.none() })
        )
        return { outcomes, snapshot: Effect.void }
      }
      // Inside our own transaction a failed statement ends it: no retry there (the batch answers 503).
      const expected = start.version === 0 ? "no_stream" as const : start.version
      const appended = yield* (locked ? store.append(stream, expected, newEvents) : appendRetrying(store, stream, start.version, newEvents)).pipe(
        Effect.tapError(() => Effect.sync(() => dropCached(store, stream)))
      )
      remember(store, stream, { state: plans.state, version: appended.version })
      const outcomes = plans.plans.map((plan): Outcome => {
        if (plan._tag === "Failed") return Exit.fail(plan.error)
        if (plan.events.length === 0) {
          return Exit.succeed({ events: plan.events, state: plan.state, version: plan.version, appended: Option.none() })
        }
        const positions = appended.positions.slice(plan.offset, plan.offset + plan.events.length)
        const result: AppendResult = {
          streamId: appended.streamId,
          version: plan.version,
          positions,
          checkpoint: checkpointAt(appended, positions[positions.length - 1])
        }
        return Exit.succeed({ events: plan.events, state: plan.state, version: plan.version, appended: Option.some(result) })
      })
      return { outcomes, snapshot: saveSnapshot(stream, start.version, appended.version, plans.state) }
    })

  /** Decides every command in order, each on the state the ones before it produced. Pure. */
  const decideAll = (stream: string, start: Loaded<State>, items: ReadonlyArray<Item>) => {
    let state = start.state
    let version = start.version
    const plans: Array<Plan<Event, State, Rejection>> = []
    const newEvents: Array<NewEvent> = []
    for (const item of items) {
      const expected = item.options.expectedVersion
      if (expected !== undefined && expected !== version) {
        plans.push({ _tag: "Failed", error: new WrongExpectedVersion({ stream, expected, actual: version }) })
        continue
      }
      const decided = decider.decide(item.command, state)
      if (Result.isFailure(decided)) {
        plans.push({ _tag: "Failed", error: decided.failure })
        continue
      }
      const events = decided.success
      const offset = newEvents.length
      if (events.length > 0) {
        newEvents.push(...encode(events, item.options.metadata))
        state = fold(state, events)
        version += events.length
      }
      plans.push({ _tag: "Decided", events, state, version, offset })
    }
    return { plans, state, version, newEvents }
  }

  /** A batch to its end: conflicts re-decided within the budget, command-specific failures isolated. */
  const runBatch = (store: Store, id: string, items: ReadonlyArray<Item>): Effect.Effect<ReadonlyArray<Outcome>, never, EventStore> => {
    const budget = Math.max(1, Math.min(...items.map((item) => item.options.maxAttempts ?? DEFAULT_ATTEMPTS)))
    const stream = streamOf(id)
    // After a conflict another process (or a transaction holding the stream's row) is writing this stream:
    // retry in a transaction of our own that locks the row first, so we queue behind those writers in the
    // database (and load what they committed) instead of losing the race again. Only a stream created
    // concurrently can still conflict there.
    const lockedRound = store.transaction(Effect.andThen(store.lockStream(stream), round(store, id, items, true))).pipe(
      Effect.tapError(() => Effect.sync(() => dropCached(store, stream)))
    )
    const rounds = budget === 1 ? round(store, id, items, false) : round(store, id, items, false).pipe(
      Effect.catchIf(isConflict, () => lockedRound.pipe(Effect.retry({ schedule: conflictRetry, times: budget - 2, while: isConflict })))
    )
    return rounds.pipe(
      // A snapshot is written after the round committed, outside its transaction (it is only a cache).
      Effect.tap((done) => done.snapshot),
      Effect.map((done) => done.outcomes),
      Effect.catch((error): Effect.Effect<ReadonlyArray<Outcome>, never, EventStore> => {
        if (items.length > 1 && commandSpecific.has(error._tag)) {
          return Effect.map(Effect.forEach(items, (item) => runBatch(store, id, [item])), (outcomes) => outcomes.flat())
        }
        return Effect.succeed(items.map((item): Outcome => {
          const expected = item.options.expectedVersion
          // A pinned version answers with its own expectation (an HTTP 412 carries the actual version).
          return isConflict(error) && expected !== undefined
            ? Exit.fail(new WrongExpectedVersion({ stream: error.stream, expected, actual: error.actual }))
            : Exit.fail(error)
        }))
      }),
      Effect.withSpan("CommandHandler.batch", { attributes: { category: aggregate.category, id, size: items.length } })
    )
  }

  /** The fiber that serves one stream's queue until it is empty. */
  const drain = (store: Store, id: string, queues: Map<string, Lane<Command, Event, State, Rejection>>, lane: Lane<Command, Event, State, Rejection>) =>
    Effect.gen(function*() {
      while (true) {
        const items = lane.queued.splice(0, maxBatch).filter((item) => !item.cancelled)
        if (items.length === 0) {
          if (lane.queued.length > 0) continue
          // No yield between this check and the removal: a command queued later starts a new drain.
          queues.delete(streamOf(id))
          return
        }
        const outcomes = yield* Effect.exit(runBatch(store, id, items))
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!
          // A defect fails every caller of the batch with it rather than leaving them waiting.
          yield* Deferred.done(item.done, Exit.isSuccess(outcomes) ? outcomes.value[i]! : Exit.failCause(outcomes.cause))
        }
      }
    }).pipe(Effect.provideService(EventStore, store))

  const enqueue = (store: Store, id: string, command: Command, options: HandleOptions) =>
    Effect.gen(function*() {
      let queues = lanes.get(store)
      if (queues === undefined) {
        queues = new Map()
        lanes.set(store, queues)
      }
      const stream = streamOf(id)
      const item: Item = { command, options, done: yield* Deferred.make<Handled<Event, State>, HandleError<Rejection>>(), cancelled: false }
      const existing = queues.get(stream)
      if (existing !== undefined) {
        existing.queued.push(item)
        return yield* Deferred.await(item.done).pipe(Effect.onInterrupt(() => Effect.sync(() => (item.cancelled = true))))
      }
      // The stream is idle: this caller decides its own command at once (a batch of one, no hand-over to
      // another fiber), while later callers queue behind it; it then hands what queued to a drain fiber.
      // Uninterruptible, so the hand-over always happens.
      const lane: Lane<Command, Event, State, Rejection> = { queued: [] }
      queues.set(stream, lane)
      const owned = queues
      const outcome = yield* Effect.uninterruptible(Effect.gen(function*() {
        const outcomes = yield* Effect.exit(runBatch(store, id, [item]))
        // No yield between this check and the removal: a command queued later finds no lane and starts anew.
        if (lane.queued.length === 0) owned.delete(stream)
        // Detached: a caller that stops waiting must not take the other callers' batch down with it.
        else yield* Effect.forkDetach(drain(store, id, owned, lane))
        return Exit.isSuccess(outcomes) ? outcomes.value[0]! : Exit.failCause(outcomes.cause)
      }))
      return yield* outcome
    })

  const handle = (id: string, command: Command, options: HandleOptions = {}) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const inTransaction = yield* store.lockStream(streamOf(id))
      return yield* (inTransaction ? handleInTransaction(store, id, command, options) : enqueue(store, id, command, options))
    }).pipe(Effect.withSpan("CommandHandler.handle", { attributes: { category: aggregate.category, id } }))

  return { aggregate, streamOf, load, loadAt, handle }
}
