/**
 * The rules every `EventStore` implementation applies, written once: how an append is validated and planned,
 * when an expected version holds for a stream's state, which error a refused write or lifecycle operation
 * reports, when an append is an identical retry (its original result is the answer), and how page sizes are
 * clamped. The PostgreSQL and in-memory stores both decide through these functions, so they cannot drift;
 * the PostgreSQL store checks the same expectations in SQL and asks here only to explain a refusal.
 */
import { Option, Result } from "effect"
import type * as Checkpoint from "./Checkpoint.ts"
import { DuplicateEventId, InvalidEvent, StreamNotFound, StreamTombstoned, WrongExpectedVersion } from "./Errors.ts"
import type { InvalidStreamName } from "./Errors.ts"
import type { AppendResult, EventMetadata, NewEvent } from "./Events.ts"
import type { StreamWrite } from "./EventStore.ts"
import * as EventValidation from "./EventValidation.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import * as StreamName from "./StreamName.ts"

// --- planning an append ---------------------------------------------------------------------------------------

/** One validated write: its parsed stream, its expectation, its events serialised for storage. */
export interface WritePlan {
  readonly stream: StreamName.ParsedStreamName
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly normalized: ExpectedVersion.Normalized
  readonly events: ReadonlyArray<EventValidation.PreparedEvent>
}

export type PlanError = InvalidStreamName | InvalidEvent | DuplicateEventId

/** Validates one write before anything is stored: the stream name, the expected version, every event. */
export const plan = (
  stream: string,
  expected: ExpectedVersion.ExpectedVersion,
  events: ReadonlyArray<NewEvent>,
  metadata: EventMetadata | undefined,
  limits: EventValidation.Limits
): Result.Result<WritePlan, PlanError> => {
  const parsed = StreamName.parse(stream)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  const normalized = expectation(stream, expected)
  if (Result.isFailure(normalized)) return Result.fail(normalized.failure)
  const prepared = EventValidation.prepare(stream, events, metadata, limits)
  if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
  return Result.succeed({ stream: parsed.success, expected, normalized: normalized.success, events: prepared.success })
}

/** The expectation of an append or lifecycle operation; one that is none of the accepted forms is refused. */
export const expectation = (
  stream: string,
  expected: ExpectedVersion.ExpectedVersion
): Result.Result<ExpectedVersion.Normalized, InvalidEvent> => {
  const normalized = ExpectedVersion.normalize(expected)
  return normalized === undefined
    ? Result.fail(
      new InvalidEvent({
        stream,
        index: 0,
        reason: "InvalidExpectedVersion",
        detail: `expected version must be "any", "no_stream", "stream_exists" or an integer >= 0, got ${String(expected)}`
      })
    )
    : Result.succeed(normalized)
}

/** Validates the writes of a multi-stream append; an event id used by two of them is refused. */
export const planAll = (
  writes: ReadonlyArray<StreamWrite>,
  metadata: EventMetadata | undefined,
  limits: EventValidation.Limits
): Result.Result<ReadonlyArray<WritePlan>, PlanError> => {
  const plans: Array<WritePlan> = []
  for (const write of writes) {
    const planned = plan(write.stream, write.expected, write.events, metadata, limits)
    if (Result.isFailure(planned)) return Result.fail(planned.failure)
    plans.push(planned.success)
  }
  const repeated = EventValidation.repeatedIds(plans.map((write) => write.events))
  if (repeated.length > 0) return Result.fail(new DuplicateEventId({ stream: plans[0]!.stream.stream, eventIds: repeated }))
  return Result.succeed(plans)
}

// --- stream state and expectations ----------------------------------------------------------------------------

/** What the rules need to know of a stream (absent: `undefined`). */
export interface StreamState {
  readonly version: number
  readonly deleted: boolean
  readonly tombstoned: boolean
}

/** Whether an append with this expectation may write to a stream in `state`. */
export const appendAllowed = (state: StreamState | undefined, expected: ExpectedVersion.Normalized): boolean => {
  if (state?.tombstoned) return false
  const live = state !== undefined && !state.deleted
  switch (expected._tag) {
    case "Any":
      return true
    case "NoStream":
      return !live
    case "StreamExists":
      return live
    case "Exact":
      return live && state.version === expected.version
  }
}

/** Whether a lifecycle operation (delete, tombstone) with this expectation may act on a stream in `state`. */
export const lifecycleAllowed = (state: StreamState, expected: ExpectedVersion.Normalized): boolean =>
  expected._tag === "Any" || appendAllowed(state, expected)

/** The version a refusal reports: 0 for a stream without readable events. */
const actualOf = (state: StreamState | undefined) => (state === undefined || state.deleted ? 0 : state.version)

// --- refusals -------------------------------------------------------------------------------------------------

/** Why an append whose expectation did not hold (and which is no retry) was refused. */
export const rejection = (write: WritePlan, state: StreamState | undefined): StreamTombstoned | WrongExpectedVersion =>
  state?.tombstoned
    ? new StreamTombstoned({ stream: write.stream.stream })
    : new WrongExpectedVersion({ stream: write.stream.stream, expected: write.expected, actual: actualOf(state) })

/** Why a stream cannot be read: absent, soft-deleted or tombstoned. `undefined` when it can. */
export const readFailure = (stream: string, state: StreamState | undefined): StreamNotFound | StreamTombstoned | undefined => {
  if (state === undefined) return new StreamNotFound({ stream })
  if (state.tombstoned) return new StreamTombstoned({ stream })
  if (state.deleted) return new StreamNotFound({ stream })
  return undefined
}

/** Why `deleteStream` did nothing. */
export const deleteFailure = (
  stream: string,
  state: StreamState | undefined,
  expected: ExpectedVersion.ExpectedVersion | undefined
): StreamNotFound | StreamTombstoned | WrongExpectedVersion => {
  if (state === undefined) return new StreamNotFound({ stream })
  if (state.tombstoned) return new StreamTombstoned({ stream })
  if (state.deleted && (expected === undefined || expected === "any")) return new StreamNotFound({ stream })
  return new WrongExpectedVersion({ stream, expected: expected ?? "any", actual: actualOf(state) })
}

/** Why `tombstoneStream` did nothing. */
export const tombstoneFailure = (
  stream: string,
  state: StreamState | undefined,
  expected: ExpectedVersion.ExpectedVersion | undefined
): StreamTombstoned | WrongExpectedVersion =>
  state?.tombstoned
    ? new StreamTombstoned({ stream })
    : new WrongExpectedVersion({ stream, expected: expected ?? "any", actual: actualOf(state) })

/** Whether tombstoning a name that was never used is allowed (it then reserves the name forever). */
export const tombstoneOfUnusedAllowed = (expected: ExpectedVersion.Normalized): boolean => expected._tag === "Any" || expected._tag === "NoStream"

/** Why `truncateStream` did nothing. */
export const truncateFailure = (stream: string, state: StreamState | undefined): StreamNotFound | StreamTombstoned =>
  state?.tombstoned ? new StreamTombstoned({ stream }) : new StreamNotFound({ stream })

// --- identical retries ----------------------------------------------------------------------------------------

/** An event already stored under one of the ids of a write. */
export interface StoredEvent {
  readonly streamId: string
  readonly version: number
  readonly position: bigint
  readonly checkpoint: Checkpoint.Checkpoint
}

/**
 * Given the stored events with the ids of `write` (in the order of its events, `undefined` where an id is
 * unused): the original result when they are exactly that earlier append (same stream, consecutive
 * versions), nothing when no id is used, and `DuplicateEventId` when the ids were reused otherwise.
 */
export const earlierAppend = (
  write: WritePlan,
  found: ReadonlyArray<StoredEvent | undefined>
): Result.Result<Option.Option<AppendResult>, DuplicateEventId> => {
  const used = write.events.filter((_, i) => found[i] !== undefined).map((event) => event.eventId)
  if (used.length === 0) return Result.succeed(Option.none())
  const first = found[0]
  const stored: Array<StoredEvent> = []
  for (let i = 0; i < found.length; i++) {
    const event = found[i]
    if (first === undefined || event === undefined || event.streamId !== write.stream.stream || event.version !== first.version + i) {
      return Result.fail(new DuplicateEventId({ stream: write.stream.stream, eventIds: used }))
    }
    stored.push(event)
  }
  const last = stored[stored.length - 1]!
  return Result.succeed(Option.some({
    streamId: write.stream.stream,
    version: last.version,
    positions: stored.map((event) => event.position),
    checkpoint: last.checkpoint
  }))
}

// --- sizes ----------------------------------------------------------------------------------------------------

export const DEFAULT_PAGE = 1_000
export const MAX_PAGE = 10_000

/**
 * The page size of a read of the global order: the default when absent or not a finite number, otherwise
 * rounded down and kept within 1 and `MAX_PAGE`.
 */
export const clampPage = (limit: number | undefined): number =>
  limit === undefined || !Number.isFinite(limit) ? DEFAULT_PAGE : Math.max(1, Math.min(MAX_PAGE, Math.floor(limit)))

/** The most events `backlog` counts. */
export const clampBacklog = (max: number | undefined): number => Math.max(1, Math.floor(max ?? 1_000_000))

/** The first version a truncation keeps (before it is capped at the stream's next version). */
export const truncationPoint = (beforeVersion: number): number => Math.max(1, Math.floor(beforeVersion))
