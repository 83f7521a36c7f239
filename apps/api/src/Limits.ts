/**
 * Protection at the edge, before any handler runs:
 * - a request body limit: a larger body is answered 413 without being buffered past the limit;
 * - admission control: at most `maxConcurrent` requests use the database at once and at most `maxQueued`
 *   wait for a slot (each at most `queueTimeout`); anything beyond is answered 503 + Retry-After at once,
 *   so overload turns into fast, retryable refusals instead of an unbounded queue and growing latency;
 * - fairness: one client (token) holds at most its share of the slots and of the queue, so a single
 *   token cannot starve the others. The edge runs two such pools: one for requests, one for
 *   read-your-writes waits (which hold a request open while a read model catches up).
 */
import { ByteSize, Duration, Effect } from "effect"
import { HttpIncomingMessage, HttpMethod, HttpServerRequest, type HttpServerResponse } from "effect/http"
import * as Problems from "./Problems.ts"

export const payloadTooLarge = (limit: number) =>
  Problems.response(413, "PayloadTooLarge", `the request body exceeds ${limit} bytes`, { connection: "close" })

/** Reads (and caches) the body under the limit, so handlers never see more than `limit` bytes. */
export const bodyLimit = (limit: number) => <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
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
  /** Slots one client (token) may hold at once; its further requests queue behind other clients'. */
  readonly maxPerClient: number
  /** What the pool is for, in the 503's detail ("requests", "read-your-writes waits"). */
  readonly label: string
}

export interface Admission {
  /** Runs `effect` for `client` in a slot, or answers 503 when none frees up in time or the queue is full. */
  readonly admit: <E, R>(
    client: string,
    effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  readonly stats: () => { readonly active: number; readonly queued: number; readonly rejected: number }
}

interface Waiter {
  readonly client: string
  settled: boolean
  readonly resume: (granted: boolean) => void
}

export const overloaded = (detail: string) => Problems.response(503, "Overloaded", detail, { "retry-after": "1" })

/**
 * A pool of `maxConcurrent` slots with a bounded FIFO queue, fair between clients: one client holds at
 * most `maxPerClient` slots and at most its proportional share of the queue, and a freed slot goes to the
 * oldest waiter whose client is under its cap, so one token can never take every slot.
 */
export const makeAdmission = (options: AdmissionOptions): Admission => {
  const perClient = Math.max(1, Math.min(options.maxPerClient, options.maxConcurrent))
  const queuedPerClient = Math.ceil(options.maxQueued * perClient / Math.max(1, options.maxConcurrent))
  let active = 0
  let rejected = 0
  const activeOf = new Map<string, number>()
  const queuedOf = new Map<string, number>()
  // Insertion-ordered: the oldest eligible waiter is served first.
  const waiters = new Set<Waiter>()
  const timeoutMs = Math.max(0, Duration.toMillis(options.queueTimeout))

  const add = (counts: Map<string, number>, client: string, delta: number) => {
    const next = (counts.get(client) ?? 0) + delta
    if (next === 0) counts.delete(client)
    else counts.set(client, next)
  }
  const dequeue = (waiter: Waiter) => {
    waiter.settled = true
    waiters.delete(waiter)
    add(queuedOf, waiter.client, -1)
  }

  const release = (client: string) => {
    add(activeOf, client, -1)
    for (const waiter of waiters) {
      if ((activeOf.get(waiter.client) ?? 0) >= perClient) continue
      dequeue(waiter)
      add(activeOf, waiter.client, 1)
      waiter.resume(true) // the slot passes straight to the waiter: `active` is unchanged
      return
    }
    active--
  }

  // Runs uninterruptibly (see `admit`): once granted, a slot is always handed back by `release`.
  const acquire = (client: string) =>
    Effect.callback<boolean>((resume) => {
      const mine = activeOf.get(client) ?? 0
      if (active < options.maxConcurrent && mine < perClient) {
        active++
        add(activeOf, client, 1)
        return resume(Effect.succeed(true))
      }
      if (waiters.size >= options.maxQueued || (queuedOf.get(client) ?? 0) >= queuedPerClient) {
        return resume(Effect.succeed(false))
      }
      const waiter: Waiter = {
        client,
        settled: false,
        resume: (granted) => {
          clearTimeout(timer)
          resume(Effect.succeed(granted))
        }
      }
      const timer = setTimeout(() => {
        if (waiter.settled) return
        dequeue(waiter)
        resume(Effect.succeed(false))
      }, timeoutMs)
      waiters.add(waiter)
      add(queuedOf, client, 1)
    })

  return {
    admit: (client, effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquire(client), (granted) => {
          if (!granted) {
            rejected++
            return Effect.succeed(overloaded(`too many ${options.label} in flight; retry shortly`))
          }
          return Effect.ensuring(restore(effect), Effect.sync(() => release(client)))
        })
      ),
    stats: () => ({ active, queued: waiters.size, rejected })
  }
}
