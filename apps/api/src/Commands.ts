/**
 * Running a domain command from an HTTP request through the ledger's command bus: the business time from
 * the Clock, the request's event metadata (correlation id, actor, idempotency key), `If-Match` as the
 * expected version, and the mapping
 * of every rejection and store failure to its problem. Failures the API can never cause (transfer steps,
 * which only the process manager sends) become defects on purpose: they would be bugs.
 */
import { type Account, Timestamp, type Transfer } from "@verity/domain"
import type { CommandBus, CommandHandler, InvalidStreamName, StoreUnavailable, StreamNotFound } from "@verity/eventstore"
import { LedgerCommandBus } from "@verity/ledger"
import { Clock, Effect, Option } from "effect"
import { HttpServerResponse, ProblemDetails } from "effect/http"
import type { SqlError } from "effect/sql/SqlError"
import * as Correlation from "./Correlation.ts"
import * as Outage from "./Outage.ts"
import * as Problems from "./Problems.ts"

/** An entity version as an HTTP entity tag. */
export const etag = (version: number) => `"${version}"`

/** `If-Match`: absent or `*` means "no precondition"; otherwise one (possibly weak) tag holding a version. */
export const parseIfMatch = (header: string | undefined): Effect.Effect<number | undefined, Problems.BadRequest> => {
  if (header === undefined || header.trim() === "*") return Effect.succeed(undefined)
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header)
  return match === null
    ? Effect.fail(Problems.badRequest("invalid If-Match", ["headers", "if-match"], "expected an entity tag such as \"3\""))
    : Effect.succeed(Number(match[1]))
}

export const now = Effect.map(Clock.currentTimeMillis, (ms) => Timestamp.fromEpochMillis(ms))

/** 412 with the current version as the ETag, so the client can re-read or retry against it. */
export const preconditionFailed = (expected: number, actual: number) =>
  HttpServerResponse.jsonUnsafe(
    new Problems.PreconditionFailed({
      expectedVersion: expected,
      currentVersion: actual,
      detail: `the stream is at version ${actual}, not ${expected}`
    }),
    { status: 412, contentType: ProblemDetails.contentType, headers: { etag: etag(actual) } }
  )

/** Seconds a client should wait before retrying a command that lost its race with another process. */
export const CONFLICT_RETRY_AFTER = "1"

/**
 * 409 once the retry budget ran out against writers in other processes (this process never conflicts with
 * itself: commands of one stream are queued). `Retry-After` says it is worth retrying, and marks the
 * answer as not final: it is never recorded under an `Idempotency-Key`.
 */
export const concurrencyConflict = HttpServerResponse.jsonUnsafe(
  new Problems.ConcurrencyConflict({ detail: "other processes kept writing this stream; retry shortly" }),
  { status: 409, contentType: ProblemDetails.contentType, headers: { "retry-after": CONFLICT_RETRY_AFTER } }
)

export const unavailable = (error: StoreUnavailable | SqlError) =>
  Effect.logWarning("database unavailable", error.message).pipe(
    Effect.andThen(Effect.fail(new Problems.ServiceUnavailable({ detail: Outage.DETAIL })))
  )

/** Failures of reading a stream (loads, history, time travel): 503 when the database is away, else bugs. */
export const loadFailure = <A, R>(
  effect: Effect.Effect<A, CommandHandler.LoadError | InvalidStreamName | StoreUnavailable | StreamNotFound, R>
): Effect.Effect<A, Problems.ServiceUnavailable | Problems.NotFound, R> =>
  Effect.catch(effect, (error): Effect.Effect<never, Problems.ServiceUnavailable | Problems.NotFound> => {
    switch (error._tag) {
      case "StoreUnavailable":
        return unavailable(error)
      case "StreamTombstoned":
      case "StreamNotFound":
        return Effect.fail(notFoundStream(error.stream))
      default:
        return Effect.die(error)
    }
  })

/** `account-<id>` is "account <id>" to a client. */
const notFoundStream = (stream: string) => {
  const dash = stream.indexOf("-")
  return dash < 0 ? Problems.notFound("stream", stream) : Problems.notFound(stream.slice(0, dash), stream.slice(dash + 1))
}

/**
 * Retryable SQL failures (connection, timeouts, conflicts) and a server going away (a terminated session
 * is 57P01, which the driver does not call retryable) are 503; anything else is a bug (500).
 */
export const sqlFailure = (error: SqlError) => error.reason.isRetryable || Outage.isSqlOutage(error) ? unavailable(error) : Effect.die(error)

const accountRejection = (rejection: Account.AccountRejection) => {
  const accountId = rejection.accountId
  switch (rejection._tag) {
    case "AccountNotOpen":
      return Problems.notFound("account", accountId)
    case "AccountAlreadyOpen":
      return new Problems.AccountAlreadyOpen({ accountId, detail: "the account is already open with other details" })
    case "AccountIsClosed":
      return new Problems.AccountIsClosed({ accountId, detail: "the account is closed" })
    case "AccountIsFrozen":
      return new Problems.AccountIsFrozen({ accountId, detail: "the account is frozen: no money may leave it" })
    case "CurrencyMismatch":
      return new Problems.CurrencyMismatch({
        accountId,
        accountCurrency: rejection.accountCurrency,
        requestedCurrency: rejection.requestedCurrency,
        detail: `the account is in ${rejection.accountCurrency}, not ${rejection.requestedCurrency}`
      })
    case "InsufficientFunds":
      return new Problems.InsufficientFunds({
        accountId,
        balance: rejection.balance,
        requested: rejection.requested,
        overdraftLimit: rejection.overdraftLimit,
        detail: `balance ${rejection.balance} with overdraft limit ${rejection.overdraftLimit} cannot cover ${rejection.requested}`
      })
    case "BalanceLimitExceeded":
      return new Problems.BalanceLimitExceeded({
        accountId,
        balance: rejection.balance,
        reserved: rejection.reserved,
        requested: rejection.requested,
        maxBalance: rejection.maxBalance,
        detail: `the balance would exceed ${rejection.maxBalance}`
      })
    case "OverdraftLimitViolated":
      return new Problems.OverdraftLimitViolated({
        accountId,
        balance: rejection.balance,
        requestedLimit: rejection.requestedLimit,
        detail: `the balance ${rejection.balance} is already below -${rejection.requestedLimit}`
      })
    case "BalanceNotZero":
      return new Problems.BalanceNotZero({
        accountId,
        balance: rejection.balance,
        detail: `an account closes only at a zero balance (it is ${rejection.balance})`
      })
    case "TransfersPending":
      return new Problems.TransfersPending({
        accountId,
        transferIds: rejection.transferIds,
        detail: "outgoing transfers of this account are still in progress"
      })
    case "TransferNotDebited":
    case "TransferAlreadySettled":
    case "TransferAlreadyRefunded":
    case "TransferMismatch":
      return undefined
  }
}

const transferRejection = (rejection: Transfer.TransferRejection) => {
  switch (rejection._tag) {
    case "SameAccountTransfer":
      return new Problems.SameAccountTransfer({
        accountId: rejection.accountId,
        detail: "a transfer needs two different accounts"
      })
    case "TransferAlreadyRequested":
    case "TransferNotRequested":
    case "TransferStepOutOfOrder":
      return undefined
  }
}

/** What the store side of `handle` can fail with (everything but the domain's rejections). */
type StoreFailure = CommandHandler.HandleError<never>

const storeTags: ReadonlySet<string> = new Set<StoreFailure["_tag"]>([
  "WrongExpectedVersion",
  "StoreUnavailable",
  "SubjectForgotten",
  "StreamTombstoned",
  "InvalidStreamName",
  "InvalidEvent",
  "DuplicateEventId",
  "EventDecodeError",
  "PersonalDataError"
])

const isStoreFailure = (error: { readonly _tag: string }): error is StoreFailure => storeTags.has(error._tag)

/** Maps a store failure; 412 comes back as a ready response (it carries the ETag header). */
const storeFailure = (failure: StoreFailure, expectedVersion: number | undefined) => {
  switch (failure._tag) {
    case "WrongExpectedVersion":
      return expectedVersion === undefined
        ? Effect.succeed(concurrencyConflict)
        : Effect.succeed(preconditionFailed(expectedVersion, failure.actual))
    case "StoreUnavailable":
      return unavailable(failure)
    case "SubjectForgotten":
      return Effect.fail(
        new Problems.SubjectForgotten({ subjectId: failure.subject, detail: "this holder was forgotten: no new personal data is accepted" })
      )
    case "StreamTombstoned":
      return Effect.fail(notFoundStream(failure.stream))
    default:
      return Effect.die(failure)
  }
}

export interface Outcome {
  readonly version: number
  readonly position: Option.Option<bigint>
}

const outcomeOf = (
  handled: { readonly version: number; readonly appended: Option.Option<{ readonly positions: ReadonlyArray<bigint> }> }
): Outcome => ({
  version: handled.version,
  position: Option.flatMap(handled.appended, (a) => Option.fromUndefinedOr(a.positions[a.positions.length - 1]))
})

type AccountProblem = Exclude<ReturnType<typeof accountRejection>, undefined>
type StoreProblem = Problems.ConcurrencyConflict | Problems.ServiceUnavailable | Problems.SubjectForgotten | Problems.NotFound

/** The request's dispatch options, with `If-Match` and the conflict budget. */
const requestOptions = (expectedVersion: number | undefined, maxAttempts: number | undefined) =>
  Effect.map(Correlation.dispatchOptions, (options): CommandBus.UnkeyedOptions => ({
    ...options,
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    ...(maxAttempts === undefined ? {} : { maxAttempts })
  }))

/** Runs an account command for the current request, through the ledger's command bus. */
export const runAccount = (command: Account.AccountCommand, expectedVersion: number | undefined, maxAttempts?: number) =>
  Effect.gen(function*() {
    const options = yield* requestOptions(expectedVersion, maxAttempts)
    return yield* LedgerCommandBus.dispatch(command, options).pipe(
      Effect.map(outcomeOf),
      Effect.catch((error): Effect.Effect<HttpServerResponse.HttpServerResponse, AccountProblem | StoreProblem> => {
        if (isStoreFailure(error)) return storeFailure(error, expectedVersion)
        const problem = accountRejection(error)
        return problem === undefined ? Effect.die(error) : Effect.fail(problem)
      })
    )
  })

type TransferProblem = Exclude<ReturnType<typeof transferRejection>, undefined>

/** Runs a transfer command for the current request, through the ledger's command bus. */
export const runTransfer = (command: Transfer.TransferCommand) =>
  Effect.gen(function*() {
    const options = yield* requestOptions(undefined, undefined)
    return yield* LedgerCommandBus.dispatch(command, options).pipe(
      Effect.map(outcomeOf),
      Effect.catch((error): Effect.Effect<HttpServerResponse.HttpServerResponse, TransferProblem | StoreProblem> => {
        if (isStoreFailure(error)) return storeFailure(error, undefined)
        const problem = transferRejection(error)
        return problem === undefined ? Effect.die(error) : Effect.fail(problem)
      })
    )
  })
