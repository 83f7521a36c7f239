/**
 * The `EventStore` service: append, read, subscribe, snapshot and manage streams. It knows no domain:
 * payloads are JSON tagged with a type and a schema version (see `EventCodec` for the typed layer).
 *
 * Guarantees (tested by the contract suite against every implementation):
 * - an append is atomic and checks its expected version in the same statement; a conflict writes nothing;
 * - stream versions are gapless; an append retried with the same event ids returns the original result;
 * - readers of the global order (`readAll`, `streamAll`, `subscribe`) see every committed event exactly
 *   once, in a commit-safe order, even when transactions commit out of position order.
 */
import { Context, type Effect, type Option, type Stream } from "effect"
import type { Checkpoint } from "./Checkpoint.ts"
import type {
  AppendError,
  InvalidEvent,
  InvalidStreamName,
  ReadAllError,
  ReadStreamError,
  StoreUnavailable,
  StreamTombstoned,
  WrongExpectedVersion
} from "./Errors.ts"
import type { AppendResult, EventMetadata, NewEvent, RecordedEvent, StreamInfo } from "./Events.ts"
import type { ExpectedVersion } from "./ExpectedVersion.ts"

export interface AppendOptions {
  /** Merged into every event's metadata (event-level keys win). */
  readonly metadata?: EventMetadata
}

export interface StreamWrite {
  readonly stream: string
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<NewEvent>
}

export interface ReadStreamOptions {
  readonly direction?: "forwards" | "backwards"
  /** Inclusive start: forwards defaults to the first readable version, backwards to the last. */
  readonly fromVersion?: number
  readonly maxCount?: number
  /** Time travel: only events up to and including this version. */
  readonly toVersion?: number
  /** Time travel: only events recorded at or before this instant. */
  readonly asOf?: Date
}

export interface ReadAllOptions {
  /** Exclusive resume point; the start of time when omitted. */
  readonly from?: Checkpoint
  /** Page size (default 1,000, max 10,000). */
  readonly limit?: number
  /** Only streams of these categories (`account` for `account-*`). */
  readonly categories?: ReadonlyArray<string>
  /** Only events of these types. */
  readonly types?: ReadonlyArray<string>
}

export interface Page {
  readonly events: ReadonlyArray<RecordedEvent>
  /** Resume point after this page (it may be past the last event when filters skipped some). */
  readonly checkpoint: Checkpoint
  /** True when nothing more is readable right now beyond `checkpoint`. */
  readonly caughtUp: boolean
}

export interface Backlog {
  /** Events readable after the checkpoint (counted up to `max`). */
  readonly events: number
  /** True when there are at least `max` events: `events` is then a lower bound. */
  readonly capped: boolean
  /** When the oldest of those events was recorded: the reader is that far behind. */
  readonly oldestRecordedAt: Option.Option<Date>
  /** The open appending transaction that committed events wait behind, when there is one. */
  readonly heldBackBy: Option.Option<HoldingTransaction>
}

/** A transaction that appends events and has not ended: readers wait behind it (postgres/Horizon.ts). */
export interface HoldingTransaction {
  readonly transactionId: bigint
  /** Server process id of its connection (`pg_terminate_backend` ends it). */
  readonly pid: number
  readonly applicationName: string
  /** `pg_stat_activity.state`: `active`, `idle in transaction`, ... */
  readonly state: string
  readonly startedAt: Option.Option<Date>
}

export interface SubscribeOptions extends ReadAllOptions {
  /** How often to look for new events when no notification arrives (default 500 ms). */
  readonly pollInterval?: number
}

/** What a subscription yields: a page of events (possibly empty when only the checkpoint moved). */
export type Batch = Page

export interface SnapshotRecord {
  readonly streamId: string
  readonly key: string
  /** The stream version the state reflects. */
  readonly version: number
  readonly state: unknown
}

export interface StreamWithSnapshot {
  readonly snapshot: Option.Option<SnapshotRecord>
  /** Events after the snapshot (all readable events when there is none). */
  readonly events: ReadonlyArray<RecordedEvent>
  /** The stream's current version. */
  readonly version: number
}

export interface Horizon {
  /** The checkpoint a reader reaches by reading everything readable now. */
  readonly checkpoint: Checkpoint
  /** The highest global position committed and readable. */
  readonly position: bigint
}

export class EventStore extends Context.Service<EventStore, {
  readonly append: (
    stream: string,
    expected: ExpectedVersion,
    events: ReadonlyArray<NewEvent>,
    options?: AppendOptions
  ) => Effect.Effect<AppendResult, AppendError>
  /** Appends to several streams in one transaction: all or nothing. */
  readonly appendMany: (
    writes: ReadonlyArray<StreamWrite>,
    options?: AppendOptions
  ) => Effect.Effect<ReadonlyArray<AppendResult>, AppendError>
  readonly readStream: (
    stream: string,
    options?: ReadStreamOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, ReadStreamError>
  /** The readable events after the stream's latest snapshot under `snapshotKey`, and that snapshot. */
  readonly readStreamWithSnapshot: (
    stream: string,
    snapshotKey: string
  ) => Effect.Effect<StreamWithSnapshot, ReadStreamError>
  readonly streamInfo: (stream: string) => Effect.Effect<Option.Option<StreamInfo>, InvalidStreamName | StoreUnavailable>
  /** One page of the global order (or of some categories / types) after `from`. */
  readonly readAll: (options?: ReadAllOptions) => Effect.Effect<Page, ReadAllError>
  /** Every event readable now after `from`, streamed page by page with backpressure; then the stream ends. */
  readonly streamAll: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent, ReadAllError>
  /** Catch up from `from`, then follow new events as they commit. Never ends on its own. */
  readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<Batch, ReadAllError>
  readonly horizon: Effect.Effect<Horizon, StoreUnavailable>
  /** The checkpoint of the event at a global position (none when no readable event has it). */
  readonly checkpointOf: (position: bigint) => Effect.Effect<Option.Option<Checkpoint>, StoreUnavailable>
  /** How far a reader at `from` (with the same filters) is behind: events and age of the oldest. */
  readonly backlog: (options: ReadAllOptions & { readonly max?: number }) => Effect.Effect<Backlog, StoreUnavailable>
  /**
   * Runs `effect` in one transaction that may append events among other statements (an idempotency
   * record, a read model's rows). It announces itself as an appender first, so readers wait for it and never
   * skip its events; a transaction that appends after other writes without it is refused (a defect). The
   * effect's own failures pass through; the store's are `StoreUnavailable`. Nested calls share the outer
   * transaction.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreUnavailable, R>
  /**
   * Hides the stream; appending to it again reopens it (versions continue). Lifecycle operations take the
   * same expected versions as appends (`InvalidEvent` with reason `InvalidExpectedVersion` otherwise).
   */
  readonly deleteStream: (
    stream: string,
    expected?: ExpectedVersion
  ) => Effect.Effect<void, ReadStreamError | WrongExpectedVersion | InvalidEvent>
  /** Permanently closes the stream: it can never be read or written again. */
  readonly tombstoneStream: (
    stream: string,
    expected?: ExpectedVersion
  ) => Effect.Effect<void, InvalidStreamName | InvalidEvent | StoreUnavailable | WrongExpectedVersion | StreamTombstoned>
  /** Hides events before `version` from stream reads (retention). Never lowers an earlier truncation. */
  readonly truncateStream: (stream: string, beforeVersion: number) => Effect.Effect<void, ReadStreamError>
  readonly saveSnapshot: (snapshot: SnapshotRecord) => Effect.Effect<void, InvalidStreamName | StoreUnavailable>
  /** Deletes the stream's snapshots (all keys). Snapshots are a cache: no read changes its answer. */
  readonly deleteSnapshots: (stream: string) => Effect.Effect<void, InvalidStreamName | StoreUnavailable>
  /**
   * Inside a transaction of this store's database (the caller's, which appends join): announces the
   * transaction as an appender (as `transaction` does) and locks the stream until the transaction ends, so
   * other writers of the stream wait instead of racing it, and answers true. Outside one (or in a store without transactions): does nothing and answers false. The command
   * handler uses the answer to decide whether a command may join a batch or must append in the caller's
   * transaction.
   */
  readonly lockStream: (stream: string) => Effect.Effect<boolean, InvalidStreamName | StoreUnavailable>
}>()("@verity/eventstore/EventStore") {}
