/**
 * How the runner reads a failure: transient (retry the same batch later), fenced (the generation is no
 * longer this runner's to write), interrupted, or anything else (isolate the batch's events, park what
 * keeps failing). The SQL part of "transient" is the event store's one classification
 * (`isRetryableSqlError`), so the runner and the store agree on what an outage is.
 */
import { isRetryableSqlError } from "@verity/eventstore"
import { Schema } from "effect"
import type { Cause } from "effect"
import { isSqlError } from "effect/sql/SqlError"

/** The generation is not ours to write any more (retired, or advanced by another runner): ends the run. */
export class Fenced extends Schema.TaggedError<Fenced>()("Fenced", {
  projection: Schema.String,
  generation: Schema.Number
}) {
  override get message() {
    return `generation ${this.generation} of ${this.projection} was advanced or retired by someone else`
  }
}

/**
 * A run that ended on an error it could not handle; the supervisor logs it and starts over.
 * `LockLost`: the connection holding the generation's lock closed; `Failed`: anything else (`detail`).
 */
export class RunnerFailure extends Schema.TaggedError<RunnerFailure>()("RunnerFailure", {
  reason: Schema.Literals(["LockLost", "Failed"]),
  projection: Schema.String,
  generation: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return this.reason === "LockLost"
      ? `lost the lock of ${this.projection} generation ${this.generation}: its connection closed`
      : this.detail
  }
}

const hasTag = (value: unknown, tag: string): boolean => typeof value === "object" && value !== null && "_tag" in value && value._tag === tag

/** The first failure or defect of `cause`, as a line of text (stored as a parked stream's error). */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = cause.reasons.find((r) => r._tag === "Fail" || r._tag === "Die")
  const value: unknown = error === undefined ? undefined : error._tag === "Fail" ? error.error : error.defect
  if (value instanceof Error) return value.message
  if (typeof value === "object" && value !== null && "message" in value) return String(value.message)
  return String(value)
}

/**
 * Transient: retrying the same batch later can succeed without anyone changing anything (an outage, or a
 * conflict with a concurrent writer that the retry reads past).
 */
export const isTransient = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => {
    if (reason._tag !== "Fail") return false
    const error: unknown = reason.error
    if (isSqlError(error)) return isRetryableSqlError(error)
    if (hasTag(error, "ProjectionConflict") || hasTag(error, "ProjectionUnavailable")) return true
    return hasTag(error, "StoreUnavailable") && typeof error === "object" && error !== null && "retryable" in error && error.retryable === true
  })

export const isFenced = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => reason._tag === "Fail" && hasTag(reason.error, "Fenced"))

export const isInterrupted = (cause: Cause.Cause<unknown>): boolean => cause.reasons.some((reason) => reason._tag === "Interrupt")
