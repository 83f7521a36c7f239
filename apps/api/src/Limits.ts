/**
 * Protection at the edge, before any handler runs:
 * - a request body limit: a larger body is answered 413 without being buffered past the limit;
 * - admission control: at most `maxConcurrent` requests use the database at once and at most `maxQueued`
 *   wait for a slot (each at most `queueTimeout`); anything beyond is answered 503 + Retry-After at once,
 *   so overload turns into fast, retryable refusals instead of an unbounded queue and growing latency.
 */
import { ByteSize, Duration, Effect } from "effect"
import { HttpIncomingMessage, HttpMethod, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Problems from "./Problems.ts"

export const payloadTooLarge = (limit: number) =>
  Problems.response(413, "PayloadTooLarge", `the request body exceeds ${limit} bytes`, { connection: "close" })

/** Reads (and caches) the body under the limit, so handlers never see more than `limit` bytes. */
export const bodyLimit = (limit: number) =>
<E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (!HttpMethod.hasBody(request.method)) return app
    const declared = request.headers["content-length"]
    if (declared !== undefined && Number(declared) > limit) return Effect.succeed(payloadTooLarge(limit))
    return request.arrayBuffer.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
      Effect.matchEffect({
        // The only failure left for a body within its declared length is the limit (chunked bodies) or a
        // broken connection, where no answer arrives anyway.
        onFailure: () => Effect.succeed(payloadTooLarge(limit)),
        onSuccess: () => app
      })
    )
  })

export interface AdmissionOptions {
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly queueTimeout: Duration.Duration
}

export interface Admission {
  /** Runs `effect` in a slot, or answers 503 when none frees up in time or the queue is full. */
  readonly admit: <E, R>(
    effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  readonly stats: () => { readonly active: number; readonly queued: number; readonly rejected: number }
}

interface Waiter {
  settled: boolean
  readonly resume: (granted: boolean) => void
}

export const overloaded = (detail: string) => Problems.response(503, "Overloaded", detail, { "retry-after": "1" })

export const makeAdmission = (options: AdmissionOptions): Admission => {
  let active = 0
  let rejected = 0
  // Insertion-ordered: the oldest waiter is served first.
  const waiters = new Set<Waiter>()
  const timeoutMs = Math.max(0, Duration.toMillis(options.queueTimeout))

  const release = () => {
    for (const waiter of waiters) {
      waiters.delete(waiter)
      waiter.settled = true
      waiter.resume(true) // the slot passes straight to the waiter: `active` is unchanged
      return
    }
    active--
  }

  // Runs uninterruptibly (see `admit`): once granted, a slot is always handed back by `release`.
  const acquire = Effect.callback<boolean>((resume) => {
    if (active < options.maxConcurrent) {
      active++
      return resume(Effect.succeed(true))
    }
    if (waiters.size >= options.maxQueued) return resume(Effect.succeed(false))
    const waiter: Waiter = {
      settled: false,
      resume: (granted) => {
        clearTimeout(timer)
        resume(Effect.succeed(granted))
      }
    }
    const timer = setTimeout(() => {
      if (waiter.settled) return
      waiter.settled = true
      waiters.delete(waiter)
      resume(Effect.succeed(false))
    }, timeoutMs)
    waiters.add(waiter)
  })

  return {
    admit: (effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquire, (granted) => {
          if (!granted) {
            rejected++
            return Effect.succeed(overloaded("too many requests in flight; retry shortly"))
          }
          return Effect.ensuring(restore(effect), Effect.sync(release))
        })
      ),
    stats: () => ({ active, queued: waiters.size, rejected })
  }
}
