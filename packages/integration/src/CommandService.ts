/**
 * Commands over NATS request/reply: another service sends a command without HTTP. One subject per
 * aggregate, `<prefix>.commands.<category>` (the payload's `_tag` picks the command, as the bus decodes),
 * subscribed in a queue group so several processes share the load (each request reaches one of them).
 * Per request, in this order:
 * - `Authorization: Bearer <token>` checked by the given authorizer (`Unauthorized`), then the scope
 *   commands need, `write` by default (`Forbidden`), as the HTTP API's scopes;
 * - the payload parsed (malformed JSON is `InvalidCommand`), its tag checked against the commands this door
 *   accepts, and decoded by the aggregate's schema (`InvalidCommand` with the schema's issue);
 * - dispatched through the command bus with the token's name as `actor`, `Correlation-Id` (a new one when
 *   absent), `traceparent` as the parent span, `Expected-Version`, and `Idempotency-Key` (scoped per token
 *   name, so two callers never share a key): a retry gets the original result, one append.
 * Every request gets exactly one reply, also when the command dies (`InternalError`, logged); see
 * `CommandReply.ts` for its shape. On shutdown the subscriptions drain, then commands in flight finish.
 * `layer` connects on its own in the background (retrying while the broker is down), so an application
 * starts without waiting for NATS.
 */
import { connect, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node"
import type { CommandBus } from "@verity/eventstore"
import { InvalidCommand, StoreUnavailable } from "@verity/eventstore"
import { Cause, Effect, FiberSet, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { Headers, HttpTraceContext } from "effect/http"
import {
  type CommandResult,
  encodeServiceError,
  Forbidden,
  HEADERS,
  InternalError,
  type Reply,
  ServiceError,
  subjectOf,
  Unauthorized
} from "./CommandReply.ts"

/** Who sent a command, as the authorizer found it. */
export interface Principal {
  readonly name: string
  readonly scopes: ReadonlySet<string>
}

/** Verifies a bearer token: the principal, or none when the token is unknown. */
export type Authorize = (token: string) => Option.Option<Principal>

/** One aggregate's door: its registration on the bus, how to encode its rejections, what it accepts. */
export interface Route {
  readonly registration: CommandBus.AnyRegistration
  /** The rejection encoded as JSON, or none when `error` is not one of the aggregate's rejections. */
  readonly encodeRejection: (error: unknown) => Option.Option<{ readonly _tag: string }>
  /** Command tags accepted here; every command of the aggregate when absent. */
  readonly commands: ReadonlySet<string> | undefined
}

/** A route for `registration`: its rejections encoded by `rejection`, only `commands` accepted (when given). */
export const route = <Command extends { readonly _tag: string }, Event, State, Rejection>(
  registration: CommandBus.Registration<Command, Event, State, Rejection>,
  options: { readonly rejection: Schema.Codec<Rejection, unknown>; readonly commands?: ReadonlyArray<Command["_tag"]> }
): Route => {
  const is = Schema.is(options.rejection)
  const encode = Schema.encodeUnknownOption(Schema.toCodecJson(options.rejection))
  return {
    registration,
    encodeRejection: (error) => is(error) ? Option.filter(encode(error), isTagged) : Option.none(),
    commands: options.commands === undefined ? undefined : new Set(options.commands)
  }
}

const isTagged = (value: unknown): value is { readonly _tag: string; readonly [field: string]: unknown } =>
  typeof value === "object" && value !== null && "_tag" in value && typeof value._tag === "string"

export interface CommandServiceOptions {
  /** Subjects are `<prefix>.commands.<category>`. Keep it outside any JetStream stream's subjects. */
  readonly prefix: string
  readonly routes: ReadonlyArray<Route>
  readonly authorize: Authorize
  /** The scope a token needs to send commands (default `write`). */
  readonly requiredScope?: string
  /** The queue group (default `<prefix>.commands`): processes in one group share the requests. */
  readonly queue?: string
  /** Load-decide-append rounds per command when other processes keep writing its stream. */
  readonly maxAttempts?: number
}

const KEY = /^[\x21-\x7e]{1,255}$/
const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/
const VERSION = /^\d{1,15}$/
const encoder = new TextEncoder()

type Encoded = { readonly _tag: string; readonly [field: string]: unknown }

const header = (msg: Msg, name: string): string | undefined => {
  const value = msg.headers?.get(name, "insensitive")
  return value === undefined || value === "" ? undefined : value
}

const invalid = (issue: string) => new InvalidCommand({ issue })

/** Decides what to answer `msg` (never fails: every outcome is a reply). */
const answer = (options: CommandServiceOptions, door: Route, msg: Msg, correlationId: string) =>
  Effect.gen(function*() {
    const requiredScope = options.requiredScope ?? "write"
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header(msg, HEADERS.authorization) ?? "")
    const principal = bearer === null ? Option.none() : options.authorize(bearer[1]!)
    if (Option.isNone(principal)) {
      return yield* new Unauthorized({ detail: "a valid bearer token is required (Authorization: Bearer <token>)" })
    }
    if (!principal.value.scopes.has(requiredScope)) {
      return yield* new Forbidden({ requiredScope, detail: `commands need the "${requiredScope}" scope` })
    }
    const key = header(msg, HEADERS.idempotencyKey)
    if (key !== undefined && !KEY.test(key)) return yield* invalid("Idempotency-Key: 1 to 255 printable ASCII characters")
    const version = header(msg, HEADERS.expectedVersion)
    if (version !== undefined && !VERSION.test(version)) return yield* invalid("Expected-Version: a stream version (integer)")

    const input = yield* Effect.try({
      try: (): unknown => JSON.parse(msg.string()),
      catch: (error) => invalid(`the payload is not JSON: ${error instanceof Error ? error.message : String(error)}`)
    })
    const tag = isTagged(input) ? input._tag : undefined
    if (door.commands !== undefined && (tag === undefined || !door.commands.has(tag))) {
      return yield* invalid(`not a command accepted on ${msg.subject}: ${[...door.commands].join(", ")}`)
    }
    const command = yield* Schema.decodeUnknownEffect(door.registration.schema)(input).pipe(
      Effect.mapError((error) => invalid(error.message))
    )
    const dispatchOptions: CommandBus.DispatchOptions = {
      correlationId,
      metadata: { actor: principal.value.name },
      ...(key === undefined ? {} : { idempotencyKey: `${principal.value.name}:${key}` }),
      ...(version === undefined ? {} : { expectedVersion: Number(version) }),
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts })
    }
    const dispatched = door.registration.route(command, dispatchOptions)
    if (dispatched === undefined) return yield* Effect.die(new Error("a decoded command that its registration does not route"))
    const handled = yield* dispatched
    const appended = Option.getOrUndefined(handled.appended)
    const result: CommandResult = {
      version: handled.version,
      positions: appended === undefined ? [] : appended.positions.map(String),
      checkpoint: appended === undefined ? null : String(appended.checkpoint),
      correlationId
    }
    return result
  })

const isServiceError = Schema.is(ServiceError)

/** A service error as JSON, by its schema. */
const encodeError = (error: ServiceError): Encoded => {
  const encoded: unknown = encodeServiceError(error)
  return isTagged(encoded) ? encoded : { _tag: "InternalError", detail: "an error that does not encode" }
}

const internal = encodeError(new InternalError({ detail: "the command failed unexpectedly" }))

/** The reply for a failure of `answer`: the bus's and the aggregate's typed errors, else `InternalError`. */
const failureReply = (door: Route, error: unknown): Effect.Effect<Encoded> => {
  if (isTagged(error) && error._tag === "StoreUnavailable") {
    // Its detail is the database's: logged here, not sent to the caller.
    return Effect.logWarning("event store unavailable", error).pipe(Effect.as(encodeError(
      new StoreUnavailable({ operation: "command", reason: "Connection", retryable: true, detail: "the event store is unavailable; retry shortly" })
    )))
  }
  if (isServiceError(error)) return Effect.succeed(encodeError(error))
  const rejection = door.encodeRejection(error)
  if (Option.isSome(rejection)) return Effect.succeed(rejection.value)
  return Effect.logError("command failed", error).pipe(Effect.as(internal))
}

const respond = (msg: Msg, reply: unknown, correlationId: string) =>
  Effect.sync(() => {
    if (msg.reply === undefined || msg.reply === "") return
    const headers = natsHeaders()
    headers.set(HEADERS.correlationId, correlationId)
    msg.respond(encoder.encode(JSON.stringify(reply)), { headers })
  })

/** Handles one request: always replies once (a defect or an interruption answers `InternalError`). */
const handle = (options: CommandServiceOptions, door: Route, msg: Msg) =>
  Effect.suspend(() => {
    const given = header(msg, HEADERS.correlationId)
    const correlationId = given !== undefined && SANE.test(given) ? given : crypto.randomUUID()
    const traceparent = header(msg, HEADERS.traceparent)
    const parent = traceparent === undefined
      ? Option.none()
      : HttpTraceContext.fromHeaders(Headers.fromRecordUnsafe({ traceparent }))
    return answer(options, door, msg, correlationId).pipe(
      Effect.map((result): Reply => ({ ok: true, result })),
      Effect.catch((error) => Effect.map(failureReply(door, error), (encoded): Reply => ({ ok: false, error: encoded }))),
      Effect.catchCause((cause) => Effect.logError("command died", Cause.pretty(cause)).pipe(Effect.as<Reply>({ ok: false, error: internal }))),
      Effect.flatMap((reply) => respond(msg, reply, correlationId)),
      Effect.withSpan("CommandService.handle", {
        attributes: { subject: msg.subject, correlationId },
        ...(Option.isSome(parent) ? { parent: parent.value } : {})
      }),
      Effect.annotateLogs({ subject: msg.subject, correlationId })
    )
  })

/**
 * Serves the routes' subjects on `nc` until the scope closes. Returns once the server has the
 * subscriptions (a request sent after it reaches this service or another of its queue group).
 */
export const serve = (
  nc: NatsConnection,
  options: CommandServiceOptions
): Effect.Effect<void, never, Scope.Scope | CommandBus.DispatchServices> =>
  Effect.gen(function*() {
    const queue = options.queue ?? `${options.prefix}.commands`
    const inFlight = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(inFlight)<CommandBus.DispatchServices>()
    const subscriptions: Array<Subscription> = []
    // Runs after the subscriptions drained: commands already received finish and reply.
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(inFlight).pipe(Effect.timeoutOption("10 seconds")))
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.allSettled(subscriptions.map((s) => s.drain()))).pipe(Effect.timeoutOption("10 seconds"))
    )
    for (const door of options.routes) {
      const subject = subjectOf(options.prefix, door.registration.category)
      subscriptions.push(nc.subscribe(subject, {
        queue,
        callback: (error, msg) => {
          if (error === null) run(handle(options, door, msg))
        }
      }))
    }
    yield* Effect.promise(() => nc.flush())
    yield* Effect.logInfo(`commands served on ${options.routes.map((d) => subjectOf(options.prefix, d.registration.category)).join(", ")}`)
  })

export interface CommandServiceLayerOptions extends CommandServiceOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: ReadonlyArray<string>
  /** The connection's name as the server shows it. */
  readonly name?: string
}

/**
 * The service on a connection of its own, for the lifetime of the layer. Connecting retries every second
 * while the broker is away (logged), in the background; once connected, the client reconnects by itself.
 */
export const layer = (options: CommandServiceLayerOptions): Layer.Layer<never, never, CommandBus.DispatchServices> =>
  Layer.effectDiscard(Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
    const nc = yield* Effect.acquireRelease(
      Effect.tryPromise(() =>
        connect({
          servers: [...options.servers],
          name: options.name ?? `verity-commands-${options.prefix}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250
        })
      ).pipe(
        Effect.tapError((error) => Effect.logWarning("NATS unreachable for commands; retrying", error.message)),
        Effect.retry(Schedule.spaced("1 second"))
      ),
      (nc) => Effect.promise(() => nc.close().catch(() => undefined))
    )
    yield* serve(nc, options)
    return yield* Effect.never
  }))))
