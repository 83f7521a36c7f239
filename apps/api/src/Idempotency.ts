/**
 * `Idempotency-Key` on POST: a retry with the same key (per token) and the same request returns the
 * ORIGINAL response (status, body, ETag) without deciding again; the same key with another method, path or
 * body is 422; the same key while the first request is still running is 409.
 *
 * Crash safety: the request runs inside one database transaction that takes a transaction-scoped advisory
 * lock on the key, appends the events (the store's append joins the ambient transaction) and records the
 * response row. A crash before COMMIT leaves neither events nor row, so the retry decides afresh; after
 * COMMIT the row is there and the retry replays it. The events also carry the key in their metadata.
 * Responses of 5xx, and any answer carrying `Retry-After` (409 ConcurrencyConflict), are not recorded (and
 * their transaction is rolled back): those requests may be retried and decide again.
 * A connection lost mid-request (even when its ROLLBACK then fails) is 503 + Retry-After, never 500.
 */
import { PgClient } from "@effect/sql-pg"
import { EventStore, StoreUnavailable } from "@verity/eventstore"
import { Cause, Data, Duration, Effect, Layer, Schedule } from "effect"
import { HttpServerRequest, HttpServerRespondable, HttpServerResponse } from "effect/http"
import { HttpApiError, HttpApiMiddleware } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { createHash } from "node:crypto"
import { ApiConfig } from "./ApiConfig.ts"
import { Principal } from "./Auth.ts"
import * as Migrations from "./Migrations.ts"
import * as Outage from "./Outage.ts"
import * as Problems from "./Problems.ts"

export const HEADER = "idempotency-key"
/** Response header set on a replayed response. */
export const REPLAYED = "idempotent-replayed"

export class Idempotency extends HttpApiMiddleware.Service<Idempotency, { requires: Principal }>()(
  "@verity/api/Idempotency",
  {
    error: [
      Problems.IdempotencyKeyInUse,
      Problems.IdempotencyKeyReused,
      HttpApiError.BadRequestProblem,
      Problems.ServiceUnavailable
    ]
  }
) {}

const KEY = /^[\x21-\x7e]{1,255}$/
const REPLAYED_HEADERS = ["content-type", "etag", "location"] as const
const UUID = /^\/accounts\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[/?]|$)/

interface StoredResponse {
  readonly request_hash: string | null
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Leaves the transaction (rolling it back) carrying what to answer or re-raise. Internal control flow that
 * never leaves this module, and it carries a live response that has no schema: hence a `Data` error, not a
 * `Schema.TaggedError` like the errors callers see.
 */
class Rollback extends Data.TaggedError("Rollback")<{ readonly outcome: HttpServerResponse.HttpServerResponse | { readonly error: unknown } }> {}

const fingerprint = (method: string, url: string, body: string) =>
  createHash("sha256").update(method).update("\n").update(url).update("\n").update(body).digest("hex")

const bodyText = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      return ""
    case "Uint8Array":
      return new TextDecoder().decode(body.body)
    case "Raw":
      return typeof body.body === "string" ? body.body : undefined
    default:
      return undefined
  }
}

const replay = (row: StoredResponse) => {
  const headers = { ...row.headers, [REPLAYED]: "true" }
  return row.body === "" && row.headers["content-type"] === undefined
    ? HttpServerResponse.empty({ status: row.status, headers })
    : HttpServerResponse.text(row.body, { status: row.status, headers })
}

/** Which account's holder a request concerned: the account in the path, or the one it created. */
const subjectOf = (url: string, body: string | undefined): string | null => {
  const inPath = UUID.exec(url)
  if (inPath !== null) return inPath[1]!
  if (body === undefined || body === "") return null
  try {
    const parsed: unknown = JSON.parse(body)
    const accountId = (parsed as { accountId?: unknown } | null)?.accountId
    return typeof accountId === "string" ? accountId : null
  } catch {
    return null
  }
}

export const make = Effect.gen(function*() {
  const sql = (yield* PgClient.PgClient).withoutTransforms()
  const store = yield* EventStore
  const table = sql(`${Migrations.SCHEMA}.idempotency_keys`)

  const record = (
    principal: string,
    key: string,
    hash: string,
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ) => {
    const body = bodyText(response)
    if (body === undefined) return Effect.die(new Error("idempotent endpoints must answer with a buffered body"))
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = response.headers[name]
      if (value !== undefined) headers[name] = value
    }
    if (headers["content-type"] === undefined && response.body._tag === "Uint8Array") {
      headers["content-type"] = response.body.contentType
    }
    return sql`
      INSERT INTO ${table} (principal, key, request_hash, subject_id, method, path, status, headers, body)
      VALUES (${principal}, ${key}, ${hash}, ${subjectOf(request.url, body)}, ${request.method}, ${request.url},
        ${response.status}, ${JSON.stringify(headers)}::jsonb, ${body})`
  }

  return Idempotency.of((httpEffect) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = request.headers[HEADER]
      if (key === undefined) return yield* httpEffect
      if (!KEY.test(key)) {
        return yield* Problems.badRequest("invalid Idempotency-Key", ["headers", HEADER], "expected 1 to 255 visible ASCII characters")
      }
      const principal = yield* Principal
      // The edge already read the body (under the size limit); this is the cached copy.
      const body = yield* Effect.orDie(request.text)
      const hash = fingerprint(request.method, request.url, body)

      const attempt = Effect.gen(function*() {
        const [lock] = yield* sql<{ readonly locked: boolean }>`
          SELECT pg_try_advisory_xact_lock(hashtextextended(${`${principal.name}\n${key}`}, 0)) AS locked`
        if (lock?.locked !== true) {
          return yield* new Rollback({
            outcome: { error: new Problems.IdempotencyKeyInUse({ detail: "a request with this Idempotency-Key is still in progress" }) }
          })
        }
        const [stored] = yield* sql<StoredResponse>`
          SELECT request_hash, status, headers, body FROM ${table} WHERE principal = ${principal.name} AND key = ${key}`
        if (stored !== undefined) {
          // A NULL fingerprint was erased with its data subject: the recorded answer (no personal data) stands.
          if (stored.request_hash !== null && stored.request_hash !== hash) {
            return yield* new Rollback({
              outcome: {
                error: new Problems.IdempotencyKeyReused({
                  detail: "this Idempotency-Key was used for a different request (method, path or body)"
                })
              }
            })
          }
          return replay(stored)
        }
        const response = yield* httpEffect.pipe(
          Effect.catch((error) =>
            HttpApiError.HttpApiSchemaError.is(error) || !HttpServerRespondable.isRespondable(error)
              ? Effect.fail(new Rollback({ outcome: { error } }))
              : HttpServerRespondable.toResponse(error)
          )
        )
        // Not final answers: a retry must decide again (503, and a 409 conflict carrying Retry-After).
        if (response.status >= 500 || response.headers["retry-after"] !== undefined) return yield* new Rollback({ outcome: response })
        yield* record(principal.name, key, hash, request, response)
        return response
      })

      // The command's events and its recorded answer commit together. The transaction announces itself as an
      // event appender: the command may write (a subject's key) before it appends.
      return yield* store.transaction(attempt).pipe(
        // A connection that dies mid-request fails the statement and then the ROLLBACK, which the SQL
        // client turns into a defect: the database is away (PostgreSQL discards the transaction with the
        // session), so the answer is 503, whatever the request had decided so far.
        Effect.catchCause((
          cause
        ): Effect.Effect<HttpServerResponse.HttpServerResponse, Rollback | SqlError | StoreUnavailable | Problems.ServiceUnavailable> =>
          !Cause.hasInterrupts(cause) && Outage.inCause(cause)
            ? Effect.logWarning("idempotency store unavailable", Cause.pretty(cause)).pipe(
              Effect.andThen(Effect.fail(new Problems.ServiceUnavailable({ detail: Outage.DETAIL })))
            )
            : Effect.failCause(cause)
        ),
        Effect.catch((failure: unknown) => {
          if (failure instanceof Rollback) {
            const outcome = failure.outcome
            // Re-raised as it came: the endpoint's own error encoding answers it.
            return HttpServerResponse.isHttpServerResponse(outcome) ? Effect.succeed(outcome) : Effect.fail(outcome.error as never)
          }
          if (isSqlError(failure) || failure instanceof StoreUnavailable) {
            return Effect.logWarning("idempotency store unavailable", failure.message).pipe(
              Effect.andThen(Effect.fail(new Problems.ServiceUnavailable({ detail: Outage.DETAIL })))
            )
          }
          return Effect.fail(failure as never)
        })
      )
    })
  )
})

/** Deletes recorded responses older than the retention, every ten minutes. */
const cleanup = Effect.gen(function*() {
  const sql = (yield* PgClient.PgClient).withoutTransforms()
  const retention = Duration.toMillis((yield* ApiConfig).idempotencyRetention)
  const table = sql(`${Migrations.SCHEMA}.idempotency_keys`)
  yield* sql`DELETE FROM ${table} WHERE created_at < now() - ${`${Math.floor(retention)} milliseconds`}::interval`.pipe(
    Effect.catch((error) => Effect.logWarning("idempotency cleanup failed", error.message)),
    Effect.repeat(Schedule.spaced("10 minutes"))
  )
})

/** Forgetting a holder also forgets the fingerprints of requests whose bodies held their data. */
export const forgetSubject = (sql: SqlClient, subjectId: string) =>
  sql`UPDATE ${sql(`${Migrations.SCHEMA}.idempotency_keys`)} SET request_hash = NULL
    WHERE subject_id = ${subjectId} AND request_hash IS NOT NULL`.pipe(Effect.asVoid)

/** The middleware, after running the API's migrations; starts the retention cleanup. */
export const layer = Layer.effect(
  Idempotency,
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    yield* Migrations.run.pipe(Effect.provideService(SqlClient, pg.withoutTransforms()))
    yield* Effect.forkScoped(cleanup)
    return yield* make
  })
)
