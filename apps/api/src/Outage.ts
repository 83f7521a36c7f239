/**
 * What "the database is away" looks like from the API: a session that cannot be opened, a lost or refused
 * connection, a server shutting down, restarting, not yet accepting connections or out of connection
 * slots, a session ended by `pg_terminate_backend` (57P01); the SQLSTATE classes are the event store's
 * (`isServerGoneSqlError`). Such a failure is never a bug: wherever it surfaces (a handler's error, a
 * rollback that fails on the dead connection and becomes a defect, a store error), the client gets 503 +
 * Retry-After and may retry. Anything else keeps its own mapping.
 */
import { isServerGoneSqlError } from "@verity/eventstore"
import { Cause } from "effect"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import * as Problems from "./Problems.ts"

/** A SQL failure that says the database cannot serve right now (rather than that the statement is wrong). */
export const isSqlOutage = (error: SqlError): boolean =>
  // A session that cannot even be opened (refused, database not accepting connections: 55000) is an outage.
  error.reason.operation === "connect" || isServerGoneSqlError(error)

const isStoreOutage = (error: object): boolean =>
  "_tag" in error && error._tag === "StoreUnavailable" && "reason" in error && error.reason === "Connection"

/**
 * An outage, or an error caused by one: wrappers (a projection error, a defect around a store error) keep
 * the original in `cause`, followed a few levels deep.
 */
export const isOutage = (error: unknown, depth = 0): boolean => {
  if (typeof error !== "object" || error === null || depth > 4) return false
  if (isSqlError(error)) return isSqlOutage(error)
  if (isStoreOutage(error)) return true
  return "cause" in error && isOutage(error.cause, depth + 1)
}

/** Any outage among the failures and defects of `cause` (a failed rollback dies with its SqlError). */
export const inCause = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => Cause.isFailReason(reason) ? isOutage(reason.error) : Cause.isDieReason(reason) ? isOutage(reason.defect) : false)

export const DETAIL = "the database is unavailable; retry shortly"

/** The answer to a request the database could not serve. */
export const response = () => Problems.response(503, "ServiceUnavailable", DETAIL, { "retry-after": "1" })
