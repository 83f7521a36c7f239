/**
 * The errors of the projection runtime, all `Schema.TaggedError`s. The operator-facing outcomes keep a
 * class each (HTTP maps them to statuses, the replayer to exit codes): an unknown projection, one that
 * cannot be replayed, a stream that is not parked, a wait that timed out, a refused switch. Everything
 * unexpected is one `ProjectionsError` whose `reason` says what failed and `isRetryable` whether trying
 * again later can succeed.
 */
import { isRetryableSqlError } from "@verity/eventstore"
import { Schema } from "effect"
import { isSqlError } from "effect/sql/SqlError"
import type * as Verify from "./Verify.ts"

const isVerifyImpossible = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "_tag" in cause && cause._tag === "VerifyImpossible"

export class UnknownProjection extends Schema.TaggedError<UnknownProjection>()("UnknownProjection", {
  name: Schema.String
}) {
  override get message() {
    return `no projection named ${this.name}`
  }
}

export class StreamNotParked extends Schema.TaggedError<StreamNotParked>()("StreamNotParked", {
  name: Schema.String,
  stream: Schema.String
}) {
  override get message() {
    return `stream ${this.stream} is not parked in projection ${this.name}`
  }
}

/** Rebuild and verify replay history: refused for a projection whose `apply` has side effects. */
export class NotReplayable extends Schema.TaggedError<NotReplayable>()("NotReplayable", {
  name: Schema.String
}) {
  override get message() {
    return `projection ${this.name} issues commands: it cannot be rebuilt or verified by replaying history`
  }
}

export class WaitTimedOut extends Schema.TaggedError<WaitTimedOut>()("WaitTimedOut", {
  name: Schema.String,
  target: Schema.String,
  reached: Schema.String
}) {
  override get message() {
    return `projection ${this.name} did not reach ${this.target} in time (at ${this.reached})`
  }
}

/** What a refused switch found: the tables whose rows differ from the events, with the first rows. */
export interface SwitchRefusal {
  readonly checkpoint: string
  readonly tables: ReadonlyArray<Verify.TableReport>
}

/**
 * The new generation differs from the events: readers stay on the current one. `tables` names the
 * differing rows (key, the generation's row, the row recomputed from the events).
 */
export class SwitchRefused extends Schema.TaggedError<SwitchRefused>()("SwitchRefused", {
  name: Schema.String,
  generation: Schema.Number,
  checkpoint: Schema.String,
  tables: Schema.Array(Schema.Struct({
    table: Schema.String,
    differences: Schema.Number,
    rows: Schema.Array(Schema.Struct({
      key: Schema.Record(Schema.String, Schema.Unknown),
      live: Schema.Unknown,
      expected: Schema.Unknown
    }))
  }))
}) {
  override get message() {
    const counts = this.tables.map((t) => `${t.table}: ${t.differences} differing rows`).join(", ")
    const first = this.tables[0]?.rows[0]
    return `switch to generation ${this.generation} of ${this.name} refused: it differs from the events (${counts})` +
      (first === undefined ? "" : `; first key ${JSON.stringify(first.key)}`)
  }
}

/**
 * Why an unexpected failure happened:
 * - `Migration`: the runtime's own tables could not be migrated;
 * - `Database`: an SQL statement of the runtime failed (`cause` is the `SqlError`);
 * - `Store`: the event store failed (`cause` is its error);
 * - `RunFailed`: a one-off rebuild's run ended on an error it could not handle;
 * - `NotSwitched`: a one-off rebuild ended without switching readers (the generation was retired or
 *   taken over meanwhile);
 * - `Unverifiable`: verify found no generation to compare, or the live one never stood still long enough.
 */
export const ProjectionsErrorReason = Schema.Literals(["Migration", "Database", "Store", "RunFailed", "NotSwitched", "Unverifiable"])
export type ProjectionsErrorReason = typeof ProjectionsErrorReason.Type

/** An unexpected failure inside the projection runtime. */
export class ProjectionsError extends Schema.TaggedError<ProjectionsError>()("ProjectionsError", {
  reason: ProjectionsErrorReason,
  /** The runtime operation that failed (`status`, `rebuild`, `parked stream`, ...). */
  operation: Schema.String,
  projection: Schema.optional(Schema.String),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return `${this.operation}${this.projection === undefined ? "" : ` of ${this.projection}`} failed: ${this.detail}`
  }

  /** True when the same operation can succeed later with nobody changing anything (an outage, a conflict). */
  get isRetryable(): boolean {
    const cause: unknown = this.cause
    switch (this.reason) {
      case "Database":
        return isSqlError(cause) && isRetryableSqlError(cause)
      case "Store":
        return typeof cause === "object" && cause !== null && "retryable" in cause && cause.retryable === true
      default:
        return false
    }
  }

  /** Wraps a failure of `operation`: an `SqlError` is the runtime's database, anything else the store's. */
  static of(operation: string, projection?: string) {
    return (cause: { readonly message: string }) =>
      new ProjectionsError({
        reason: isSqlError(cause) ? "Database" : isVerifyImpossible(cause) ? "Unverifiable" : "Store",
        operation,
        ...(projection === undefined ? {} : { projection }),
        detail: cause.message,
        cause
      })
  }

  /** Wraps a failed SQL statement of `operation`. */
  static database(operation: string, projection?: string) {
    return (cause: { readonly message: string }) =>
      new ProjectionsError({ reason: "Database", operation, ...(projection === undefined ? {} : { projection }), detail: cause.message, cause })
  }
}
