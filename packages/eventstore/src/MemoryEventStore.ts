/**
 * An in-memory `EventStore` with the same semantics as the PostgreSQL one: for fast domain and handler
 * tests, never as the only backend a feature is tested on (the contract suite runs against both).
 * Validation, expectations, refusals, identical retries and page sizes come from `StoreRules`, as in the
 * PostgreSQL store; its spans carry the same names. Appends are applied synchronously, so every append is
 * its own "transaction" and commit order equals position order.
 *
 * It stays one module (about 370 lines) on purpose: it is one closure over one in-memory state, the whole
 * store interface in the order of `EventStore`'s methods, and reads best side by side with that interface.
 */
import { Effect, Layer, Option, Result, Stream } from "effect"
import * as Checkpoint from "./Checkpoint.ts"
import type { AppendError, ReadStreamError } from "./Errors.ts"
import type { AppendResult, NewEvent, RecordedEvent, StreamInfo } from "./Events.ts"
import {
  type AppendOptions,
  EventStore,
  type Page,
  type ReadAllOptions,
  type ReadStreamOptions,
  type SnapshotRecord,
  type StreamWrite,
  type SubscribeOptions
} from "./EventStore.ts"
import * as EventValidation from "./EventValidation.ts"
import type * as ExpectedVersion from "./ExpectedVersion.ts"
import * as StoreRules from "./StoreRules.ts"
import type { WritePlan } from "./StoreRules.ts"
import * as StreamName from "./StreamName.ts"
import * as Wakeup from "./Wakeup.ts"

interface StreamRecord {
  readonly category: string
  version: number
  deleted: boolean
  tombstoned: boolean
  truncateBefore: number
  readonly createdAt: Date
  updatedAt: Date
  readonly events: Array<RecordedEvent>
}

interface StoredSnapshot extends SnapshotRecord {
  readonly truncateBefore: number
}

export interface MemoryEventStoreOptions {
  readonly limits?: Partial<EventValidation.Limits>
}

export const make = (options: MemoryEventStoreOptions = {}) =>
  Effect.sync(() => {
    const limits: EventValidation.Limits = { ...EventValidation.defaultLimits, ...options.limits }
    const streams = new Map<string, StreamRecord>()
    const all: Array<RecordedEvent> = []
    const byId = new Map<string, RecordedEvent>()
    const snapshots = new Map<string, StoredSnapshot>()
    const committed = Wakeup.make()
    let transaction = 2n // PostgreSQL's first normal transaction id is 3

    /** Checks every write against the current state (as one transaction would), then applies them all. */
    const applyAll = (writes: ReadonlyArray<WritePlan>): Result.Result<ReadonlyArray<AppendResult>, AppendError> => {
      const seen = new Set<string>()
      // Stream states as the transaction sees them: a later write to the same stream sees the earlier one.
      const states = new Map<string, StoreRules.StreamState | undefined>()
      let failed: WritePlan | undefined
      for (const write of writes) {
        for (const event of write.events) {
          if (byId.has(event.eventId) || seen.has(event.eventId)) failed ??= write
          seen.add(event.eventId)
        }
        const name = write.stream.stream
        const state = states.has(name) ? states.get(name) : streams.get(name)
        if (!StoreRules.appendAllowed(state, write.normalized)) failed ??= write
        states.set(name, { version: (state?.version ?? 0) + write.events.length, deleted: false, tombstoned: state?.tombstoned ?? false })
      }
      if (failed !== undefined) {
        const previous: Array<AppendResult> = []
        for (const write of writes) {
          const found = StoreRules.earlierAppend(write, write.events.map((event) => byId.get(event.eventId)))
          if (Result.isFailure(found)) return Result.fail(found.failure)
          if (Option.isNone(found.success)) return Result.fail(StoreRules.rejection(failed, streams.get(failed.stream.stream)))
          previous.push(found.success.value)
        }
        return Result.succeed(previous)
      }
      transaction += 1n
      const now = new Date()
      const results: Array<AppendResult> = []
      for (const write of writes) {
        let record = streams.get(write.stream.stream)
        if (record === undefined) {
          record = emptyRecord(write.stream.category)
          streams.set(write.stream.stream, record)
        }
        record.deleted = false
        record.updatedAt = now
        const positions: Array<bigint> = []
        let last: RecordedEvent | undefined
        for (const event of write.events) {
          record.version += 1
          const position = BigInt(all.length + 1)
          const { eventId, type, schemaVersion } = event
          last = {
            streamId: write.stream.stream,
            version: record.version,
            position,
            transactionId: transaction,
            checkpoint: Checkpoint.make(transaction, position),
            eventId,
            type,
            schemaVersion,
            data: JSON.parse(event.data),
            metadata: JSON.parse(event.metadata),
            recordedAt: now
          }
          all.push(last)
          record.events.push(last)
          byId.set(event.eventId, last)
          positions.push(position)
        }
        results.push({ streamId: write.stream.stream, version: record.version, positions, checkpoint: last!.checkpoint })
      }
      committed.signalUnsafe()
      return Result.succeed(results)
    }

    const emptyRecord = (category: string): StreamRecord => {
      const now = new Date()
      return { category, version: 0, deleted: false, tombstoned: false, truncateBefore: 1, createdAt: now, updatedAt: now, events: [] }
    }

    const append = Effect.fn("EventStore.append")(
      function*(stream: string, expected: ExpectedVersion.ExpectedVersion, events: ReadonlyArray<NewEvent>, options?: AppendOptions) {
        const write = yield* Effect.fromResult(StoreRules.plan(stream, expected, events, options?.metadata, limits))
        const results = yield* Effect.fromResult(applyAll([write]))
        return results[0]!
      }
    )

    const appendMany = Effect.fn("EventStore.appendMany")(
      function*(writes: ReadonlyArray<StreamWrite>, options?: AppendOptions) {
        const plans = yield* Effect.fromResult(StoreRules.planAll(writes, options?.metadata, limits))
        if (plans.length === 0) return []
        return yield* Effect.fromResult(applyAll(plans))
      }
    )

    const parseStream = (stream: string) => Effect.fromResult(StreamName.parse(stream))

    /** The stream's record when it can be read. */
    const readable = (stream: string): Result.Result<StreamRecord, ReadStreamError> => {
      const parsed = StreamName.parse(stream)
      if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
      const record = streams.get(stream)
      const failure = StoreRules.readFailure(stream, record)
      return failure === undefined ? Result.succeed(record!) : Result.fail(failure)
    }

    const readStream = Effect.fn("EventStore.readStream")(
      function*(stream: string, options: ReadStreamOptions = {}) {
        const record = yield* Effect.fromResult(readable(stream))
        const backwards = options.direction === "backwards"
        let events = record.events.filter((event) =>
          event.version >= record.truncateBefore &&
          (options.toVersion === undefined || event.version <= options.toVersion) &&
          (options.asOf === undefined || event.recordedAt.getTime() <= options.asOf.getTime()) &&
          (options.fromVersion === undefined ||
            (backwards ? event.version <= options.fromVersion : event.version >= options.fromVersion))
        )
        if (backwards) events = events.reverse()
        if (options.maxCount !== undefined) events = events.slice(0, Math.max(0, Math.floor(options.maxCount)))
        return events
      }
    )

    const readStreamWithSnapshot = Effect.fn("EventStore.readStreamWithSnapshot")(
      function*(stream: string, snapshotKey: string) {
        const record = yield* Effect.fromResult(readable(stream))
        const saved = snapshots.get(`${stream}\u0001${snapshotKey}`)
        const usable = saved !== undefined && saved.truncateBefore === record.truncateBefore && saved.version <= record.version
        const after = Math.max(usable ? saved.version : 0, record.truncateBefore - 1)
        return {
          snapshot: usable
            ? Option.some<SnapshotRecord>({ streamId: stream, key: snapshotKey, version: saved.version, state: saved.state })
            : Option.none<SnapshotRecord>(),
          events: record.events.filter((event) => event.version > after),
          version: record.version
        }
      }
    )

    const streamInfo = Effect.fn("EventStore.streamInfo")(
      function*(stream: string) {
        yield* parseStream(stream)
        const record = streams.get(stream)
        if (record === undefined) return Option.none<StreamInfo>()
        const { version, truncateBefore, createdAt, updatedAt } = record
        const state = record.tombstoned ? "tombstoned" : record.deleted ? "deleted" : "active"
        return Option.some<StreamInfo>({ streamId: stream, version, state, truncateBefore, createdAt, updatedAt })
      }
    )

    const readPage = (options: ReadAllOptions): Page => {
      const from = options.from ?? Checkpoint.start
      const limit = StoreRules.clampPage(options.limit)
      const events: Array<RecordedEvent> = []
      // Events are appended in commit order, so `all` is sorted by checkpoint: binary-search the resume point.
      let low = 0
      let high = all.length
      while (low < high) {
        const middle = (low + high) >>> 1
        if (Checkpoint.Order(all[middle]!.checkpoint, from) <= 0) low = middle + 1
        else high = middle
      }
      for (let i = low; i < all.length && events.length < limit; i++) {
        const event = all[i]!
        const category = event.streamId.slice(0, event.streamId.indexOf("-"))
        if (options.categories !== undefined && !options.categories.includes(category)) continue
        if (options.types !== undefined && !options.types.includes(event.type)) continue
        events.push(event)
      }
      const full = events.length === limit
      const checkpoint = full
        ? events[events.length - 1]!.checkpoint
        : Checkpoint.max(from, Checkpoint.afterTransaction(transaction))
      return { events, checkpoint, caughtUp: !full }
    }

    const readAll = (options: ReadAllOptions = {}) => Effect.sync(() => readPage(options)).pipe(Effect.withSpan("EventStore.readAll"))

    const streamAll = (options: ReadAllOptions = {}) =>
      Stream.paginate(options.from ?? Checkpoint.start, (from) =>
        Effect.sync(() => {
          const page = readPage({ ...options, from })
          return [page.events, page.caughtUp ? Option.none() : Option.some(page.checkpoint)] as const
        }))

    const subscribe = (options: SubscribeOptions = {}) =>
      Stream.paginate<{ readonly from: Checkpoint.Checkpoint; readonly wait: Effect.Effect<void> | undefined }, Page>(
        { from: options.from ?? Checkpoint.start, wait: undefined },
        (state) =>
          Effect.gen(function*() {
            if (state.wait !== undefined) yield* Effect.timeoutOption(state.wait, options.pollInterval ?? 500)
            const ticket = yield* committed.ticket
            const page = readPage({ ...options, from: state.from })
            const moved = page.events.length > 0 || page.checkpoint !== state.from
            return [moved ? [page] : [], Option.some({ from: page.checkpoint, wait: page.caughtUp ? ticket : undefined })] as const
          })
      )

    const horizon = Effect.sync(() => ({ checkpoint: Checkpoint.afterTransaction(transaction), position: BigInt(all.length) }))
      .pipe(Effect.withSpan("EventStore.horizon"))

    const checkpointOf = (position: bigint) =>
      Effect.sync(() => Option.map(Option.fromNullishOr(all[Number(position) - 1]), (event) => event.checkpoint))

    const backlog = (options: ReadAllOptions & { readonly max?: number }) =>
      Effect.sync(() => {
        const max = StoreRules.clampBacklog(options.max)
        let events = 0
        let oldest: Date | undefined
        let from = options.from ?? Checkpoint.start
        while (events < max) {
          const page = readPage({ ...options, from, limit: StoreRules.MAX_PAGE })
          if (page.events.length > 0) oldest ??= page.events[0]!.recordedAt
          events += page.events.length
          if (page.caughtUp) break
          from = page.checkpoint
        }
        return {
          events: Math.min(events, max),
          capped: events >= max,
          oldestRecordedAt: Option.fromNullishOr(oldest),
          // Every append commits at once: nothing is ever held back.
          heldBackBy: Option.none()
        }
      }).pipe(Effect.withSpan("EventStore.backlog"))

    // One process, appends commit as they run: a transaction adds nothing to order (and there is no
    // rollback; a caller that needs one uses the PostgreSQL store).
    const inTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect

    const dropSnapshots = (stream: string, keep?: (snapshot: StoredSnapshot) => boolean) => {
      for (const [key, snapshot] of snapshots) {
        if (snapshot.streamId === stream && (keep === undefined || !keep(snapshot))) snapshots.delete(key)
      }
    }

    const deleteStream = Effect.fn("EventStore.deleteStream")(
      function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
        yield* parseStream(stream)
        const expectation = yield* Effect.fromResult(StoreRules.expectation(stream, expected ?? "any"))
        const record = streams.get(stream)
        if (record === undefined || record.deleted || record.tombstoned || !StoreRules.lifecycleAllowed(record, expectation)) {
          return yield* Effect.fail(StoreRules.deleteFailure(stream, record, expected))
        }
        record.deleted = true
        record.truncateBefore = record.version + 1
        record.updatedAt = new Date()
        dropSnapshots(stream)
      }
    )

    const tombstoneStream = Effect.fn("EventStore.tombstoneStream")(
      function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
        const parsed = yield* parseStream(stream)
        const expectation = yield* Effect.fromResult(StoreRules.expectation(stream, expected ?? "any"))
        const record = streams.get(stream)
        if (record === undefined && StoreRules.tombstoneOfUnusedAllowed(expectation)) {
          // Tombstoning a name that was never used reserves it forever.
          streams.set(stream, { ...emptyRecord(parsed.category), tombstoned: true })
          return
        }
        if (record === undefined || record.tombstoned || !StoreRules.lifecycleAllowed(record, expectation)) {
          return yield* Effect.fail(StoreRules.tombstoneFailure(stream, record, expected))
        }
        record.tombstoned = true
        record.updatedAt = new Date()
        dropSnapshots(stream)
      }
    )

    const truncateStream = Effect.fn("EventStore.truncateStream")(
      function*(stream: string, beforeVersion: number) {
        const record = yield* Effect.fromResult(readable(stream))
        record.truncateBefore = Math.max(record.truncateBefore, Math.min(StoreRules.truncationPoint(beforeVersion), record.version + 1))
        record.updatedAt = new Date()
        dropSnapshots(stream, (snapshot) => snapshot.truncateBefore === record.truncateBefore)
      }
    )

    const saveSnapshot = Effect.fn("EventStore.saveSnapshot")(
      function*(snapshot: SnapshotRecord) {
        yield* parseStream(snapshot.streamId)
        const record = streams.get(snapshot.streamId)
        if (record === undefined || record.deleted || record.tombstoned || record.version < snapshot.version) return
        const key = `${snapshot.streamId}\u0001${snapshot.key}`
        const existing = snapshots.get(key)
        if (existing === undefined || existing.version < snapshot.version || existing.truncateBefore !== record.truncateBefore) {
          // Stored as JSON, as PostgreSQL would, so callers cannot mutate it afterwards.
          snapshots.set(key, { ...snapshot, state: JSON.parse(JSON.stringify(snapshot.state)), truncateBefore: record.truncateBefore })
        }
      }
    )

    const deleteSnapshots = Effect.fn("EventStore.deleteSnapshots")(
      function*(stream: string) {
        yield* parseStream(stream)
        dropSnapshots(stream)
      }
    )

    return EventStore.of({
      append,
      appendMany,
      readStream,
      readStreamWithSnapshot,
      streamInfo,
      readAll,
      streamAll,
      subscribe,
      horizon,
      backlog,
      transaction: inTransaction,
      checkpointOf,
      deleteStream,
      tombstoneStream,
      truncateStream,
      saveSnapshot,
      deleteSnapshots,
      // No transactions: every append commits on its own.
      lockStream: (stream) => Effect.map(parseStream(stream), () => false)
    })
  })

export const layer = (options: MemoryEventStoreOptions = {}) => Layer.effect(EventStore, make(options))
