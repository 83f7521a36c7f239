/**
 * The wire contract of commands over NATS request/reply, shared by the service (`CommandService.ts`) and
 * its client (`CommandClient.ts`): the subject of an aggregate's commands, the request headers, and the
 * typed reply, JSON `{ ok: true, result }` or `{ ok: false, error: { _tag, ...fields } }`. The errors a
 * door can answer are the bus's own (`InvalidCommand`, `WrongExpectedVersion`, `IdempotencyKeyReused`,
 * `StoreUnavailable`, ...), the authorization's (`Unauthorized`, `Forbidden`), `InternalError` for a bug of
 * the service, and the aggregate's own rejections (encoded by their schema).
 */
import { IdempotencyKeyReused, InvalidCommand, StoreUnavailable, StreamTombstoned, SubjectForgotten, WrongExpectedVersion } from "@verity/eventstore"
import { Schema } from "effect"

/** Request headers. */
export const HEADERS = {
  authorization: "Authorization",
  idempotencyKey: "Idempotency-Key",
  correlationId: "Correlation-Id",
  expectedVersion: "Expected-Version",
  traceparent: "traceparent"
} as const

/** The subject of the commands of the aggregate of `category`: `<prefix>.commands.<category>`. */
export const subjectOf = (prefix: string, category: string) => `${prefix}.commands.${category}`

/** What a command that ran answers: the stream's version after it, and where its events are (if any). */
export const CommandResult = Schema.Struct({
  version: Schema.Int,
  /** Global positions of the appended events (decimal strings: JSON has no int8); empty for a no-op. */
  positions: Schema.Array(Schema.String),
  /** The append's checkpoint (for read-your-writes), null when nothing was appended. */
  checkpoint: Schema.NullOr(Schema.String),
  correlationId: Schema.String
})
export type CommandResult = typeof CommandResult.Type

/** No valid bearer token in `Authorization`. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { detail: Schema.String }) {}

/** The token lacks the scope commands need. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  requiredScope: Schema.String,
  detail: Schema.String
}) {}

/** The service failed in a way the request did not cause (a bug); nothing is known to have been applied. */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", { detail: Schema.String }) {}

/** Every error the service answers besides the aggregates' rejections. */
export const ServiceError = Schema.Union([
  InvalidCommand,
  Unauthorized,
  Forbidden,
  WrongExpectedVersion,
  IdempotencyKeyReused,
  StoreUnavailable,
  StreamTombstoned,
  SubjectForgotten,
  InternalError
])
export type ServiceError = typeof ServiceError.Type

export const serviceErrorTags: ReadonlySet<string> = new Set<ServiceError["_tag"]>([
  "InvalidCommand",
  "Unauthorized",
  "Forbidden",
  "WrongExpectedVersion",
  "IdempotencyKeyReused",
  "StoreUnavailable",
  "StreamTombstoned",
  "SubjectForgotten",
  "InternalError"
])

export const encodeServiceError = Schema.encodeSync(Schema.toCodecJson(ServiceError))
export const decodeServiceError = Schema.decodeUnknownEffect(Schema.toCodecJson(ServiceError))
export const decodeResult = Schema.decodeUnknownEffect(CommandResult)

/** The reply as sent. */
export type Reply =
  | { readonly ok: true; readonly result: CommandResult }
  | { readonly ok: false; readonly error: { readonly _tag: string } & Readonly<Record<string, unknown>> }
