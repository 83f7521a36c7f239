/**
 * What a projection is: a name, a version, the events it reads, the tables it owns, and a handler that
 * applies a whole batch of events with set-based SQL. The runner calls the handler inside the transaction
 * that also advances the projection's checkpoint, so its effect on the read model is exactly once.
 *
 * Tables live in a PostgreSQL schema per generation (`<name>_g<N>`); readers use the stable views in
 * schema `<name>`, which a rebuild switches atomically from one generation to the next. A handler must
 * therefore only name its tables through `context.table(...)`.
 */
import type { EventStore, RecordedEvent, StoreUnavailable } from "@verity/eventstore"
import { type Effect, Schema } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Identifier } from "effect/sql/Statement"

export interface ProjectionTable {
  /** Table name inside the generation's schema (also the view name in the projection's schema). */
  readonly name: string
  /** Primary-key columns: verify matches rows on them and reports differences per key. */
  readonly key: ReadonlyArray<string>
}

export interface TablesContext {
  /** The PostgreSQL schema of the generation being written. */
  readonly schema: string
  /** A table of this generation, as an SQL identifier to interpolate into statements. */
  readonly table: (name: string) => Identifier
  /** True while a new generation is built from the history (a rebuild or a first catch-up in bulk). */
  readonly rebuilding: boolean
}

/**
 * A batch (or one event of it) the handler cannot apply. Not retried as transient: it parks the stream.
 * `message` says what is wrong with the events (it is stored as the parked stream's error); `cause` keeps
 * the underlying failure (a decoding error, a rejected command) when there is one.
 */
export class ProjectionFailure extends Schema.TaggedError<ProjectionFailure>()("ProjectionFailure", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * A batch that raced a concurrent writer (a version conflict that outlasted a command handler's retries, a
 * step another writer already recorded differently). Transient for the runner: the batch is rolled back and
 * runs again on the new state, never parked; not an outage, so it is kept apart from `StoreUnavailable`.
 */
export class ProjectionConflict extends Schema.TaggedError<ProjectionConflict>()("ProjectionConflict", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * Something outside PostgreSQL that the handler needs is unreachable (a message broker a relay publishes
 * to). Transient for the runner, like a retryable `StoreUnavailable`: the batch is rolled back and retried
 * with backoff, the runner reports `stalled` with this message, and no stream is parked.
 */
export class ProjectionUnavailable extends Schema.TaggedError<ProjectionUnavailable>()("ProjectionUnavailable", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export interface Projection {
  /** Lower-case identifier: it names the PostgreSQL schemas of the projection. */
  readonly name: string
  /** Bump when the tables or the handler change: the runner then builds a new generation beside the old. */
  readonly version: number
  readonly description?: string
  /** Only events of these stream categories (all categories when absent). */
  readonly categories?: ReadonlyArray<string>
  /** Only events of these types. */
  readonly eventTypes: ReadonlyArray<string>
  readonly tables: ReadonlyArray<ProjectionTable>
  /**
   * True for a process manager: `apply` issues commands rather than writing its own tables, so replaying
   * history (rebuild, verify) would act again. The runtime refuses both for such a projection.
   */
  readonly sideEffects?: boolean
  /**
   * Whether `apply` appends events (default: `sideEffects`). An appending checkpoint transaction is
   * announced to the store first, so readers wait for it; a handler with side effects outside the store
   * (a relay publishing to a broker) sets false, so that a slow broker holds no reader back.
   */
  readonly appends?: boolean
  /** Creates the tables (and indexes) of a generation in `context.schema`. */
  readonly migrate: (context: TablesContext) => Effect.Effect<void, SqlError, SqlClient>
  /**
   * Applies a batch in order. Runs inside the checkpoint transaction; must not commit or start its own.
   * The runtime's `EventStore` is in context too, so a process manager can issue commands from here: the
   * store's appends run on the same PgClient, hence in this transaction, and commit (or roll back) together
   * with the checkpoint. A retryable `StoreUnavailable`, a `ProjectionConflict` and a `ProjectionUnavailable`
   * are transient for the runner (the batch is retried).
   */
  readonly apply: (
    events: ReadonlyArray<RecordedEvent>,
    context: TablesContext
  ) => Effect.Effect<
    void,
    ProjectionFailure | ProjectionConflict | ProjectionUnavailable | SqlError | StoreUnavailable,
    SqlClient | EventStore
  >
}

const NAME = /^[a-z][a-z0-9_]{0,40}$/

export const make = (projection: Projection): Projection => {
  if (!NAME.test(projection.name)) throw new Error(`invalid projection name ${projection.name}`)
  if (!Number.isSafeInteger(projection.version) || projection.version < 1) {
    throw new Error(`projection ${projection.name}: version must be a positive integer`)
  }
  for (const table of projection.tables) {
    if (!NAME.test(table.name)) throw new Error(`projection ${projection.name}: invalid table name ${table.name}`)
  }
  return projection
}

/** The schema holding generation `generation` of `name`. */
export const generationSchema = (name: string, generation: number) => `${name}_g${generation}`

/**
 * The checkpoint transaction of `projection`. A process manager (`appends`) appends events inside it after other
 * writes (parking rows, row locks), so its transaction announces itself as an event appender first
 * (`EventStore.transaction`): readers then wait for it rather than skip its events. A read model appends
 * nothing and stays a plain transaction, which never holds readers back.
 */
export const checkpointTransaction =
  (projection: Projection, store: EventStore["Service"], sql: SqlClient) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError | StoreUnavailable, R> =>
    (projection.appends ?? projection.sideEffects) === true ? store.transaction(effect) : sql.withTransaction(effect)
