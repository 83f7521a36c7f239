/**
 * The client of commands over NATS request/reply (`CommandService.ts`): sends one command (its JSON
 * encoding) with the token, idempotency key, correlation id and the current span as `traceparent`, and
 * decodes the reply: the result, or the typed error the service answered (a rejection decoded by the
 * aggregate's rejection schema when given, else `UnknownRejection`). Transport failures (no service
 * listening, no reply in time, a reply that is not the contract) are `CommandClientError`.
 */
import { errors, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node"
import { Duration, Effect, Option, Redacted, Schema } from "effect"
import { HttpTraceContext } from "effect/http"
import { type CommandResult, decodeResult, decodeServiceError, HEADERS, type ServiceError, serviceErrorTags } from "./CommandReply.ts"

/** The request did not get a reply of the contract. `NoResponders` and `Timeout` are worth retrying. */
export class CommandClientError extends Schema.TaggedError<CommandClientError>()("CommandClientError", {
  reason: Schema.Literals(["NoResponders", "Timeout", "Unavailable", "MalformedReply"]),
  detail: Schema.String
}) {
  get isRetryable() {
    return this.reason !== "MalformedReply"
  }
}

/** A rejection the caller gave no schema for (or that its schema does not decode). */
export class UnknownRejection extends Schema.TaggedError<UnknownRejection>()("UnknownRejection", {
  tag: Schema.String,
  rejection: Schema.Unknown
}) {}

export interface SendOptions<Rejection> {
  readonly token: string | Redacted.Redacted
  readonly idempotencyKey?: string
  readonly correlationId?: string
  /** Decide only against this stream version. */
  readonly expectedVersion?: number
  /** How long to wait for the reply (default 10 seconds). */
  readonly timeout?: Duration.Input
  /** The aggregate's rejections, to decode them as their classes. */
  readonly rejection?: Schema.Codec<Rejection, unknown>
}

const malformed = (detail: string) => new CommandClientError({ reason: "MalformedReply", detail })

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null

/** Sends `command` to `subject` (`CommandReply.subjectOf`) and decodes the reply. */
export const send = <const Command extends { readonly _tag: string }, Rejection = never>(
  nc: NatsConnection,
  subject: string,
  command: Command,
  options: SendOptions<Rejection>
): Effect.Effect<CommandResult, ServiceError | Rejection | UnknownRejection | CommandClientError> =>
  Effect.gen(function*() {
    const headers = natsHeaders()
    const token = typeof options.token === "string" ? options.token : Redacted.value(options.token)
    headers.set(HEADERS.authorization, `Bearer ${token}`)
    if (options.idempotencyKey !== undefined) headers.set(HEADERS.idempotencyKey, options.idempotencyKey)
    if (options.correlationId !== undefined) headers.set(HEADERS.correlationId, options.correlationId)
    if (options.expectedVersion !== undefined) headers.set(HEADERS.expectedVersion, String(options.expectedVersion))
    const span = yield* Effect.currentSpan.pipe(Effect.option)
    if (Option.isSome(span)) {
      const traceparent = HttpTraceContext.toHeaders(span.value)["traceparent"]
      if (traceparent !== undefined) headers.set(HEADERS.traceparent, traceparent)
    }
    const timeout = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "10 seconds"))
    const msg = yield* Effect.tryPromise({
      try: () => nc.request(subject, JSON.stringify(command), { timeout, headers }),
      catch: (error) => {
        const detail = error instanceof Error ? error.message : String(error)
        const cause = error instanceof errors.RequestError && error.cause !== undefined ? error.cause : error
        if (cause instanceof errors.NoRespondersError) return new CommandClientError({ reason: "NoResponders", detail })
        if (cause instanceof errors.TimeoutError) return new CommandClientError({ reason: "Timeout", detail })
        return new CommandClientError({ reason: "Unavailable", detail })
      }
    })
    const reply = yield* Effect.try({ try: (): unknown => msg.json<unknown>(), catch: () => malformed("the reply is not JSON") })
    if (!isRecord(reply) || typeof reply["ok"] !== "boolean") return yield* malformed("the reply has no `ok`")
    if (reply["ok"]) return yield* decodeResult(reply["result"]).pipe(Effect.mapError((e) => malformed(e.message)))
    const error = reply["error"]
    if (!isRecord(error) || typeof error["_tag"] !== "string") return yield* malformed("the reply's error has no `_tag`")
    const tag = error["_tag"]
    if (serviceErrorTags.has(tag)) {
      const decoded = yield* decodeServiceError(error).pipe(Effect.mapError((e) => malformed(e.message)))
      return yield* Effect.fail(decoded)
    }
    const schema = options.rejection
    if (schema !== undefined) {
      const decoded = Schema.decodeUnknownOption(Schema.toCodecJson(schema))(error)
      if (Option.isSome(decoded)) return yield* Effect.fail(decoded.value)
    }
    return yield* new UnknownRejection({ tag, rejection: error })
  }).pipe(Effect.withSpan("CommandClient.send", { attributes: { subject } }))
