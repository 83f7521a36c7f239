/**
 * An in-memory `EventStore` with the same semantics as the PostgreSQL one: for fast domain and handler
 * tests, never as the only backend a feature is tested on (the contract suite runs against both).
 * Appends are applied synchronously, so every append is its own "transaction" and commit order equals
 * position order.
 */
import { Effect, Layer, Option, Result, Stream } from "effect"
import * as Checkpoint from "./Checkpoint.ts"
import {
  DuplicateEventId,
  InvalidStreamName,
  StreamNotFound,
  StreamTombstoned,
  WrongExpectedVersion
} from "./Errors.ts"
import type { AppendError, InvalidEvent, ReadStreamError } from "./Errors.ts"
import type { AppendResult, EventMetadata, NewEvent, RecordedEvent, StreamInfo } from "./Events.ts"
import {
  EventStore,
  type Page,
  type ReadAllOptions,
  type ReadStreamOptions,
  type SnapshotRecord,
  type StreamWrite,
  type SubscribeOptions
} from "./EventStore.ts"
import * as EventValidation from "./EventValidation.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
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

interface PreparedWrite {
  readonly stream: StreamName.ParsedStreamName
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly normalized: ExpectedVersion.Normalized
  readonly events: ReadonlyArray<EventValidation.PreparedEvent>
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

    const prepare = (
      stream: string,
      expected: ExpectedVersion.ExpectedVersion,
      events: ReadonlyArray<NewEvent>,
      metadata: EventMetadata | undefined
    ): Result.Result<PreparedWrite, InvalidStreamName | InvalidEvent | DuplicateEventId> => {
      const parsed = StreamName.parse(stream)
      if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
      const normalized = ExpectedVersion.normalize(expected)
      if (normalized === undefined) {
        return Result.fail(new InvalidStreamName({ stream, reason: `invalid expected version ${String(expected)}` }))
      }
      const prepared = EventValidation.prepare(stream, events, metadata, limits)
      if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
      return Result.succeed({ stream: parsed.success, expected, normalized, events: prepared.success })
    }

    interface Head {
      readonly version: number
      readonly live: boolean
      readonly tombstoned: boolean
    }

    const headOf = (record: StreamRecord | undefined): Head | undefined =>
      record === undefined ? undefined : { version: record.version, live: !record.deleted, tombstoned: record.tombstoned }

    const casHolds = (head: Head | undefined, expected: ExpectedVersion.Normalized): boolean => {
      if (head?.tombstoned) return false
      const live = head !== undefined && head.live
      switch (expected._tag) {
        case "Any":
          return true
        case "NoStream":
          return !live
        case "StreamExists":
          return live
        case "Exact":
          return live && head.version === expected.version
      }
    }

    /** The earlier identical append of `write`'s events, a duplicate-id error, or nothing. */
    const earlier = (write: PreparedWrite): Result.Result<Option.Option<AppendResult>, DuplicateEventId> => {
      const found = write.events.map((event) => byId.get(event.eventId))
      const present = found.filter((event): event is RecordedEvent => event !== undefined)
      if (present.length === 0) return Result.succeed(Option.none())
      const first = found[0]
      const identical = first !== undefined &&
        found.every((event, i) => event !== undefined && event.streamId === write.stream.stream && event.version === first.version + i)
      if (!identical) {
        return Result.fail(new DuplicateEventId({ stream: write.stream.stream, eventIds: present.map((e) => e.eventId) }))
      }
      const last = found[found.length - 1]!
      return Result.succeed(Option.some({
        streamId: write.stream.stream,
        version: last.version,
        positions: found.map((event) => event!.position),
        checkpoint: last.checkpoint
      }))
    }

    const rejection = (write: PreparedWrite): StreamTombstoned | WrongExpectedVersion => {
      const record = streams.get(write.stream.stream)
      if (record?.tombstoned) return new StreamTombstoned({ stream: write.stream.stream })
      const actual = record === undefined || record.deleted ? 0 : record.version
      return new WrongExpectedVersion({ stream: write.stream.stream, expected: write.expected, actual })
    }

    /** Checks every write against the current state (as one transaction would), then applies them all. */
    const applyAll = (writes: ReadonlyArray<PreparedWrite>): Result.Result<ReadonlyArray<AppendResult>, AppendError> => {
      const seen = new Set<string>()
      // Heads as the transaction sees them: a later write to the same stream sees the earlier one.
      const heads = new Map<string, Head | undefined>()
      let failed: PreparedWrite | undefined
      for (const write of writes) {
        for (const event of write.events) {
          if (byId.has(event.eventId) || seen.has(event.eventId)) failed ??= write
          seen.add(event.eventId)
        }
        const name = write.stream.stream
        const head = heads.has(name) ? heads.get(name) : headOf(streams.get(name))
        if (!casHolds(head, write.normalized)) failed ??= write
        heads.set(name, { version: (head?.version ?? 0) + write.events.length, live: true, tombstoned: head?.tombstoned ?? false })
      }
      if (failed !== undefined) {
        const previous: Array<AppendResult> = []
        for (const write of writes) {
          const found = earlier(write)
          if (Result.isFailure(found)) return Result.fail(found.failure)
          if (Option.isNone(found.success)) return Result.fail(rejection(failed))
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
          last = {
            streamId: write.stream.stream,
            version: record.version,
            position,
            transactionId: transaction,
            checkpoint: Checkpoint.make(transaction, position),
            eventId: event.eventId,
            type: event.type,
            schemaVersion: event.schemaVersion,
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

    const append = (stream: string, expected: ExpectedVersion.ExpectedVersion, events: ReadonlyArray<NewEvent>, options?: { readonly metadata?: EventMetadata }) =>
      Effect.suspend(() => {
        const write = prepare(stream, expected, events, options?.metadata)
        if (Result.isFailure(write)) return Effect.fail(write.failure)
        return Effect.fromResult(applyAll([write.success])).pipe(Effect.map((results) => results[0]!))
      })

    const appendMany = (writes: ReadonlyArray<StreamWrite>, options?: { readonly metadata?: EventMetadata }) =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<AppendResult>, AppendError> => {
        const prepared: Array<PreparedWrite> = []
        for (const write of writes) {
          const result = prepare(write.stream, write.expected, write.events, options?.metadata)
          if (Result.isFailure(result)) return Effect.fail(result.failure)
          prepared.push(result.success)
        }
        if (prepared.length === 0) return Effect.succeed([])
        const repeated = EventValidation.repeatedIds(prepared.map((write) => write.events))
        if (repeated.length > 0) {
          return Effect.fail(new DuplicateEventId({ stream: prepared[0]!.stream.stream, eventIds: repeated }))
        }
        return Effect.fromResult(applyAll(prepared))
      })

    const readable = (stream: string): Result.Result<StreamRecord, ReadStreamError> => {
      const parsed = StreamName.parse(stream)
      if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
      const record = streams.get(stream)
      if (record === undefined) return Result.fail(new StreamNotFound({ stream }))
      if (record.tombstoned) return Result.fail(new StreamTombstoned({ stream }))
      if (record.deleted) return Result.fail(new StreamNotFound({ stream }))
      return Result.succeed(record)
    }

    const readStream = (stream: string, options: ReadStreamOptions = {}) =>
      Effect.suspend(() => {
        const found = readable(stream)
        if (Result.isFailure(found)) return Effect.fail(found.failure)
        const record = found.success
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
        return Effect.succeed(events as ReadonlyArray<RecordedEvent>)
      })

    const readStreamWithSnapshot = (stream: string, snapshotKey: string) =>
      Effect.suspend(() => {
        const found = readable(stream)
        if (Result.isFailure(found)) return Effect.fail(found.failure)
        const record = found.success
        const saved = snapshots.get(`${stream}\u0001${snapshotKey}`)
        const usable = saved !== undefined && saved.truncateBefore === record.truncateBefore && saved.version <= record.version
        const after = Math.max(usable ? saved.version : 0, record.truncateBefore - 1)
        return Effect.succeed({
          snapshot: usable
            ? Option.some<SnapshotRecord>({ streamId: stream, key: snapshotKey, version: saved.version, state: saved.state })
            : Option.none<SnapshotRecord>(),
          events: record.events.filter((event) => event.version > after),
          version: record.version
        })
      })

    const streamInfo = (stream: string) =>
      Effect.suspend(() => {
        const parsed = StreamName.parse(stream)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        const record = streams.get(stream)
        if (record === undefined) return Effect.succeed(Option.none<StreamInfo>())
        return Effect.succeed(Option.some<StreamInfo>({
          streamId: stream,
          version: record.version,
          state: record.tombstoned ? "tombstoned" : record.deleted ? "deleted" : "active",
          truncateBefore: record.truncateBefore,
          createdAt: record.createdAt,
          updatedAt: record.updatedAt
        }))
      })

    const readPage = (options: ReadAllOptions): Page => {
      const from = options.from ?? Checkpoint.start
      const limit = Math.max(1, Math.min(10_000, Math.floor(options.limit ?? 1_000)))
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

    const readAll = (options: ReadAllOptions = {}) => Effect.sync(() => readPage(options))

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

    const horizon = Effect.sync(() => ({
      checkpoint: Checkpoint.afterTransaction(transaction),
      position: BigInt(all.length)
    }))

    const checkpointOf = (position: bigint) =>
      Effect.sync(() => Option.map(Option.fromNullishOr(all[Number(position) - 1]), (event) => event.checkpoint))

    const backlog = (options: ReadAllOptions & { readonly max?: number }) =>
      Effect.sync(() => {
        const max = Math.max(1, Math.floor(options.max ?? 1_000_000))
        let events = 0
        let oldest: Date | undefined
        let from = options.from ?? Checkpoint.start
        while (events < max) {
          const page = readPage({ ...options, from, limit: 10_000 })
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
      })

    // One process, appends commit as they run: a transaction adds nothing to order (and there is no
    // rollback; a caller that needs one uses the PostgreSQL store).
    const inTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect

    const expectationHolds = (record: StreamRecord, expected: ExpectedVersion.ExpectedVersion | undefined) => {
      const normalized = ExpectedVersion.normalize(expected ?? "any")
      if (normalized === undefined) return false
      return normalized._tag === "Any" || casHolds(headOf(record), normalized)
    }

    const lifecycleFailure = (stream: string, record: StreamRecord | undefined, expected: ExpectedVersion.ExpectedVersion | undefined) => {
      if (record === undefined) return new StreamNotFound({ stream })
      if (record.tombstoned) return new StreamTombstoned({ stream })
      if (record.deleted && (expected === undefined || expected === "any")) return new StreamNotFound({ stream })
      return new WrongExpectedVersion({ stream, expected: expected ?? "any", actual: record.deleted ? 0 : record.version })
    }

    const dropSnapshots = (stream: string, keep?: (snapshot: StoredSnapshot) => boolean) => {
      for (const [key, snapshot] of snapshots) {
        if (snapshot.streamId === stream && (keep === undefined || !keep(snapshot))) snapshots.delete(key)
      }
    }

    const deleteStream = (stream: string, expected?: ExpectedVersion.ExpectedVersion) =>
      Effect.suspend((): Effect.Effect<void, ReadStreamError | WrongExpectedVersion> => {
        const parsed = StreamName.parse(stream)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        const record = streams.get(stream)
        if (record === undefined || record.deleted || record.tombstoned || !expectationHolds(record, expected)) {
          return Effect.fail(lifecycleFailure(stream, record, expected))
        }
        record.deleted = true
        record.truncateBefore = record.version + 1
        record.updatedAt = new Date()
        dropSnapshots(stream)
        return Effect.void
      })

    const tombstoneStream = (stream: string, expected?: ExpectedVersion.ExpectedVersion) =>
      Effect.suspend((): Effect.Effect<void, InvalidStreamName | WrongExpectedVersion | StreamTombstoned> => {
        const parsed = StreamName.parse(stream)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        const record = streams.get(stream)
        if (record?.tombstoned) return Effect.fail(new StreamTombstoned({ stream }))
        if (record === undefined) {
          const normalized = ExpectedVersion.normalize(expected ?? "any")
          if (normalized?._tag !== "Any" && normalized?._tag !== "NoStream") {
            return Effect.fail(new WrongExpectedVersion({ stream, expected: expected ?? "any", actual: 0 }))
          }
          streams.set(stream, { ...emptyRecord(parsed.success.category), tombstoned: true })
          return Effect.void
        }
        if (!expectationHolds(record, expected)) {
          return Effect.fail(new WrongExpectedVersion({ stream, expected: expected ?? "any", actual: record.deleted ? 0 : record.version }))
        }
        record.tombstoned = true
        record.updatedAt = new Date()
        dropSnapshots(stream)
        return Effect.void
      })

    const truncateStream = (stream: string, beforeVersion: number) =>
      Effect.suspend(() => {
        const found = readable(stream)
        if (Result.isFailure(found)) return Effect.fail(found.failure)
        const record = found.success
        record.truncateBefore = Math.max(record.truncateBefore, Math.min(Math.max(1, Math.floor(beforeVersion)), record.version + 1))
        dropSnapshots(stream, (snapshot) => snapshot.truncateBefore === record.truncateBefore)
        return Effect.void
      })

    const saveSnapshot = (snapshot: SnapshotRecord) =>
      Effect.suspend(() => {
        const parsed = StreamName.parse(snapshot.streamId)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        const record = streams.get(snapshot.streamId)
        if (record === undefined || record.deleted || record.tombstoned || record.version < snapshot.version) {
          return Effect.void
        }
        const key = `${snapshot.streamId}\u0001${snapshot.key}`
        const existing = snapshots.get(key)
        if (existing === undefined || existing.version < snapshot.version || existing.truncateBefore !== record.truncateBefore) {
          // Stored as JSON, as PostgreSQL would, so callers cannot mutate it afterwards.
          snapshots.set(key, { ...snapshot, state: JSON.parse(JSON.stringify(snapshot.state)), truncateBefore: record.truncateBefore })
        }
        return Effect.void
      })

    const deleteSnapshots = (stream: string) =>
      Effect.suspend(() => {
        const parsed = StreamName.parse(stream)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        dropSnapshots(stream)
        return Effect.void
      })

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
      lockStream: (stream) => Effect.map(Effect.fromResult(StreamName.parse(stream)), () => false)
    })
  })

export const layer = (options: MemoryEventStoreOptions = {}) => Layer.effect(EventStore, make(options))
