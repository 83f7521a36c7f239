/**
 * Turns driver errors into the store's typed errors. Lost connections, server restarts, timeouts and
 * serialization conflicts become a retryable `StoreUnavailable`; a syntax error is a bug in this package
 * and becomes a defect on purpose; anything else is a non-retryable `StoreUnavailable` with the detail.
 */
import { Effect } from "effect"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { StoreUnavailable } from "../Errors.ts"

/** SQLSTATE codes of a server that is shutting down, restarting or not yet accepting connections. */
const SERVER_GOING_AWAY = new Set(["57P01", "57P02", "57P03", "53300"])
/** SQLSTATE codes raised by the store's guards in the database (Migrations.ts `4_guards`). */
const GUARDS = new Set(["V0001", "V0002"])

export const sqlState = (error: SqlError): string | undefined => {
  const cause: unknown = error.reason.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") {
    return cause.code
  }
  return undefined
}

export const constraintOf = (error: SqlError): string | undefined => error.reason._tag === "UniqueViolation" ? error.reason.constraint : undefined

/**
 * The server went away or cannot serve sessions right now: a lost or refused connection (class 08), a
 * session ended by `pg_terminate_backend` (57P01), a server shutting down or starting (57P02, 57P03), no
 * connection slots (53300).
 */
export const isServerGone = (error: SqlError): boolean => {
  if (error.reason._tag === "ConnectionError") return true
  const code = sqlState(error)
  return code !== undefined && (code.startsWith("08") || SERVER_GOING_AWAY.has(code))
}

/**
 * True when the same work can succeed later with nobody changing anything: the server went away, a
 * timeout, a deadlock or a serialization conflict. Used by callers that run their own SQL next to the
 * store's (projections).
 */
export const isRetryable = (error: SqlError): boolean => {
  switch (error.reason._tag) {
    case "StatementTimeoutError":
    case "LockTimeoutError":
    case "DeadlockError":
    case "SerializationError":
      return true
    default:
      return isServerGone(error)
  }
}

const describe = (error: SqlError): string => {
  const cause: unknown = error.reason.cause
  const detail = cause instanceof Error ? cause.message : error.reason.message
  return detail ?? error.reason._tag
}

export const toStoreError = (operation: string, error: SqlError): Effect.Effect<never, StoreUnavailable> => {
  const detail = describe(error)
  switch (error.reason._tag) {
    case "ConnectionError":
      return Effect.fail(new StoreUnavailable({ operation, reason: "Connection", retryable: true, detail }))
    case "StatementTimeoutError":
    case "LockTimeoutError":
      return Effect.fail(new StoreUnavailable({ operation, reason: "Timeout", retryable: true, detail }))
    case "DeadlockError":
    case "SerializationError":
      return Effect.fail(new StoreUnavailable({ operation, reason: "Conflict", retryable: true, detail }))
    case "SqlSyntaxError":
      return Effect.die(error)
    default: {
      const code = sqlState(error)
      // The store's own guards (a late append, a change to a stored event): a bug in the caller, not an outage.
      if (code !== undefined && GUARDS.has(code)) return Effect.die(error)
      if (code !== undefined && SERVER_GOING_AWAY.has(code)) {
        return Effect.fail(new StoreUnavailable({ operation, reason: "Connection", retryable: true, detail }))
      }
      return Effect.fail(new StoreUnavailable({ operation, reason: "Unexpected", retryable: false, detail }))
    }
  }
}

/** Maps every `SqlError` of `effect` to the store's errors; other errors pass through unchanged. */
export const mapSqlErrors =
  (operation: string) => <A, E, R>(effect: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, Exclude<E, SqlError> | StoreUnavailable, R> =>
    Effect.catch(effect, (error): Effect.Effect<never, Exclude<E, SqlError> | StoreUnavailable> =>
      isSqlError(error)
        ? toStoreError(operation, error)
        // Not a SqlError, so it is one of the other members of E.
        : Effect.fail(error as Exclude<E, SqlError>))
