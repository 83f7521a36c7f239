/**
 * The edge: one global router middleware around every request (routes, docs, unknown paths). In order:
 * correlation id, body limit, admission control (not for the public probes and docs; read-your-writes
 * waits in a pool of their own; per token, a bounded share of each pool), then a safety net
 * that turns anything that is not already a problem (unknown route, a 415 from the codec, a defect) into
 * `application/problem+json` without leaking internals, adds `WWW-Authenticate` to 401s and `Retry-After`
 * to 503s, and writes one structured access-log line per request.
 */
import { Cause, Effect, type Types } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse, ProblemDetails } from "effect/http"
import { ApiConfig } from "./ApiConfig.ts"
import * as Correlation from "./Correlation.ts"
import * as Limits from "./Limits.ts"
import * as Outage from "./Outage.ts"
import * as Problems from "./Problems.ts"
import * as Ranges from "./Ranges.ts"

/** Paths that never wait for a database slot: probes and documentation. */
const PUBLIC = /^\/(?:health|ready|openapi\.json|docs)(?:[/?]|$)/

/** A read that asks to wait for a position (`GET ...?waitForPosition=`): it goes to the waits pool. */
const isWait = (request: HttpServerRequest.HttpServerRequest) => {
  if (request.method !== "GET") return false
  const query = request.url.indexOf("?")
  return query >= 0 && new URLSearchParams(request.url.slice(query + 1)).has("waitForPosition")
}

const statusTitles: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  408: "RequestTimeout",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  422: "UnprocessableContent",
  500: "InternalError",
  503: "ServiceUnavailable"
}

const isProblem = (response: HttpServerResponse.HttpServerResponse) => {
  const body = response.body
  const contentType = response.headers["content-type"] ?? ("contentType" in body ? body.contentType : undefined)
  return contentType?.startsWith(ProblemDetails.contentType) === true
}

/** Every error response is a problem; the few that are not yet (codec 415, empty 400/413) become one. */
const normalize = (response: HttpServerResponse.HttpServerResponse) => {
  let result = response
  if (response.status >= 400 && !isProblem(response)) {
    const name = statusTitles[response.status] ?? (response.status >= 500 ? "InternalError" : "BadRequest")
    result = Problems.response(response.status, name, defaultDetail(response.status))
  }
  if (result.status === 401) result = HttpServerResponse.setHeader(result, "www-authenticate", "Bearer realm=\"verity\"")
  if (result.status === 503 && result.headers["retry-after"] === undefined) {
    result = HttpServerResponse.setHeader(result, "retry-after", "1")
  }
  return result
}

const defaultDetail = (status: number) => {
  switch (status) {
    case 404:
      return "no such resource"
    case 413:
      return "the request body is too large"
    case 415:
      return "send the body as application/json"
    default:
      return status >= 500 ? "unexpected error" : "the request is invalid"
  }
}

/**
 * Failures that escaped every handler: routing misses become 404, an outage 503, the rest 500 (logged,
 * not shown).
 */
const recover = (cause: Cause.Cause<unknown>) =>
  Effect.gen(function*() {
    if (Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause)
    const error = Cause.squash(cause)
    if (HttpServerError.isHttpServerError(error)) {
      switch (error.reason._tag) {
        case "RouteNotFound":
          // The router names the segment limit only when a segment exceeded it: a malformed request, not
          // a missing resource (every segment a schema accepts fits under the limit, see Ranges.ts).
          return error.reason.description?.includes("maxParamLength") === true
            ? Problems.response(400, "BadRequest", `a path segment is longer than ${Ranges.MAX_PATH_SEGMENT} characters`)
            : Problems.response(404, "NotFound", "no such resource")
        case "RequestParseError":
          return error.reason.reason === "BodyTooLarge"
            ? Problems.response(413, "PayloadTooLarge", "the request body is too large")
            : Problems.response(400, "BadRequest", "the request could not be read")
        default:
          // InternalError, ResponseError: not the client's doing, answered below.
          break
      }
    }
    // The database going away is never a bug, wherever it surfaced (a defect around a dead connection).
    if (Outage.inCause(cause)) {
      yield* Effect.logWarning("database unavailable", Cause.pretty(cause))
      return Outage.response()
    }
    const id = yield* Correlation.CorrelationId
    yield* Effect.logError("unhandled failure", cause)
    return Problems.internalErrorResponse(id)
  })

export const make = Effect.gen(function*() {
  const config = yield* ApiConfig
  const commands = Limits.makeAdmission({
    maxConcurrent: config.maxConcurrent,
    maxQueued: config.maxQueued,
    queueTimeout: config.queueTimeout,
    maxPerClient: config.maxConcurrentPerToken,
    label: "requests"
  })
  // Read-your-writes waits hold a request open until a read model catches up (up to the wait timeout): in
  // the command pool they could take every slot from writers, so they have their own, without a queue.
  const waits = Limits.makeAdmission({
    maxConcurrent: config.maxWaits,
    maxQueued: 0,
    queueTimeout: config.queueTimeout,
    maxPerClient: config.maxWaitsPerToken,
    label: "read-your-writes waits"
  })
  const limitBody = Limits.bodyLimit(config.maxBodyBytes)

  return (app: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const start = performance.now()
      const id = Correlation.fromRequest(request)
      const bounded = limitBody(app)
      const client = request.headers["authorization"] ?? ""
      const guarded = PUBLIC.test(request.url)
        ? bounded
        : (isWait(request) ? waits : commands).admit(client, bounded)
      return guarded.pipe(
        Effect.catchCause(recover),
        Effect.map((response) => HttpServerResponse.setHeader(normalize(response), Correlation.HEADER, id)),
        Effect.tap((response) =>
          Effect.logInfo("http").pipe(
            Effect.annotateLogs({
              method: request.method,
              url: request.url,
              status: response.status,
              ms: Math.round((performance.now() - start) * 10) / 10
            })
          )
        ),
        Effect.tap(() => Effect.annotateCurrentSpan("verity.request_id", id)),
        Effect.provideService(Correlation.CorrelationId, id),
        Effect.annotateLogs("requestId", id)
      )
    }) as Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, HttpServerRequest.HttpServerRequest>
})

/** The edge as a global router middleware. */
export const layer = HttpRouter.middleware(make, { global: true })
