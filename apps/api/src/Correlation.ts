/**
 * The correlation id of a request: taken from `X-Request-Id` when the caller sent a sane one, generated
 * otherwise; echoed in the response, attached to every log line and span of the request, and written into
 * the metadata of every event the request causes (with the actor and the idempotency key, through the
 * command bus), so one id
 * follows a request from the edge through the store into the process manager's follow-up events.
 */
import type { CommandBus, EventMetadata } from "@verity/eventstore"
import { Context, Effect } from "effect"
import { HttpServerRequest } from "effect/http"
import { Principal } from "./Auth.ts"

export const HEADER = "x-request-id"

/** The current request's correlation id (undefined outside a request). */
export const CorrelationId = Context.Reference<string | undefined>("@verity/api/CorrelationId", {
  defaultValue: () => undefined
})

// Printable ASCII without spaces, short: anything else could smuggle log injection or huge values.
const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/

export const fromRequest = (request: HttpServerRequest.HttpServerRequest): string => {
  const given = request.headers[HEADER]
  return given !== undefined && SANE.test(given) ? given : crypto.randomUUID()
}

/**
 * How the current request's commands are dispatched (`CommandBus.DispatchOptions`): its correlation id, and
 * the actor and the client's `Idempotency-Key` as event metadata. The key is only recorded here: HTTP
 * retries are answered by the response layer (Idempotency.ts), which replays the stored response, so the
 * bus's own idempotency (for doors without one) is not used for them.
 */
export const dispatchOptions = Effect.gen(function*() {
  const correlationId = yield* CorrelationId
  const principal = yield* Effect.serviceOption(Principal)
  const request = yield* Effect.serviceOption(HttpServerRequest.HttpServerRequest)
  const metadata: { -readonly [K in keyof EventMetadata]: EventMetadata[K] } = {}
  if (principal._tag === "Some") metadata.actor = principal.value.name
  if (request._tag === "Some") {
    const key = request.value.headers["idempotency-key"]
    if (key !== undefined && request.value.method === "POST") metadata.idempotencyKey = key
  }
  const options: CommandBus.UnkeyedOptions = correlationId === undefined ? { metadata } : { correlationId, metadata }
  return options
})
