/**
 * One batch of a stream's queued commands, to its end: decide every command IN ORDER on the folded state
 * (each sees the events of the ones before it), append all their events in ONE statement at the version
 * the state was loaded at, and give every command its own outcome (its own version and positions).
 * - A rejected command, or one whose own expected version does not match, fails alone.
 * - A version conflict re-decides the batch in a transaction of its own that locks the stream's row first,
 *   within the smallest `maxAttempts` of the batch; a command-specific append failure (invalid event,
 *   forgotten subject, duplicate id) re-runs the batch one command at a time.
 * - The committed-state cache is used when allowed and dropped on any failure of the append.
 */
import { Decider } from "@verity/kernel"
import { Effect, Exit, Option, Result } from "effect"
import * as Checkpoint from "../Checkpoint.ts"
import type { Aggregate, Handled, HandleError, HandleOptions, Loaded } from "../CommandHandler.ts"
import { WrongExpectedVersion } from "../Errors.ts"
import type { EventCodec } from "../EventCodec.ts"
import * as EventId from "../EventId.ts"
import type { AppendResult, EventMetadata, NewEvent } from "../Events.ts"
import type { EventStore } from "../EventStore.ts"
import { appendRetrying, commandSpecific, conflictRetry, DEFAULT_ATTEMPTS, isConflict, type Store } from "./Retry.ts"
import type { StateCacheStore } from "./StateCacheStore.ts"
import type { StreamState } from "./StreamState.ts"

/** A command of a batch: what it asks and how (the queue's entries are these). */
export interface BatchItem<Command> {
  readonly command: Command
  readonly options: HandleOptions
}

export type Outcome<Event, State, Rejection> = Exit.Exit<Handled<Event, State>, HandleError<Rejection>>

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

/** The checkpoint just after `position`, written by the same transaction as `result`. */
const checkpointAt = (result: AppendResult, position: bigint | undefined) => {
  if (position === undefined) return result.checkpoint
  const parts = Checkpoint.decode(result.checkpoint)
  return Result.isSuccess(parts) ? Checkpoint.make(parts.success.transactionId, position) : result.checkpoint
}

/** Encodes decided events for the append, each with a fresh id and the command's own metadata. */
export const encodeEvents = <Event>(
  codec: EventCodec<Event>,
  decided: ReadonlyArray<Event>,
  metadata: EventMetadata | undefined
): Array<NewEvent> => {
  const now = Date.now()
  return decided.map((event) => {
    const encoded = codec.encode(event)
    const base = { eventId: EventId.make(now), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
    // Metadata travels on each event: commands of one batch carry their own correlation, actor and key.
    return metadata === undefined ? base : { ...base, metadata }
  })
}

export interface Batches<Command, Event, State, Rejection> {
  readonly runBatch: (
    store: Store,
    id: string,
    items: ReadonlyArray<BatchItem<Command>>
  ) => Effect.Effect<ReadonlyArray<Outcome<Event, State, Rejection>>, never, EventStore>
}

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>,
  streamOf: (id: string) => string,
  streamState: StreamState<State>,
  cache: StateCacheStore<State>
): Batches<Command, Event, State, Rejection> => {
  const { codec, decider } = aggregate
  const cachePolicy = aggregate.cache
  const { crossesSnapshot, load, saveSnapshot } = streamState
  type Item = BatchItem<Command>
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
        : cache.get(store, stream)
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
        cache.remember(store, stream, start)
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
        Effect.tapError(() => Effect.sync(() => cache.drop(store, stream)))
      )
      cache.remember(store, stream, { state: plans.state, version: appended.version })
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
        newEvents.push(...encodeEvents(codec, events, item.options.metadata))
        state = Decider.fold(decider, events, state)
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
      Effect.tapError(() => Effect.sync(() => cache.drop(store, stream)))
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

  return { runBatch }
}
