/**
 * The typed command bus: one door for every command, whatever sends it (HTTP, a process manager, a
 * message queue). Commands are schema-tagged values; the bus is built from one registration per aggregate
 * (the schema of its command union, its `CommandHandler`, and which stream a command addresses) and
 * - routes a command to its aggregate's handler, its result typed per command (`Deposit` answers the
 *   account's events, state and rejections); `dispatchUnknown` decodes an untyped input first
 *   (`InvalidCommand` with the schema's issue);
 * - fills the events' metadata once: correlation id (a new one when none is given), causation id (the
 *   given one, else the command's own id when it has one), and any further keys (actor, ...);
 * - with an `idempotencyKey`, runs the command at most once per key: a retry of the same command gets the
 *   original result, recorded in the transaction of its append (`CommandResults`); the same key with a
 *   different command fails with `IdempotencyKeyReused`. A command that failed recorded nothing: a retry
 *   runs it again.
 */
import { Effect, Schema } from "effect"
import { CommandResults } from "./command-bus/CommandResults.ts"
import * as Recorded from "./command-bus/Recorded.ts"
import type { CommandHandler, Handled, HandleError, HandleOptions } from "./CommandHandler.ts"
import { type IdempotencyKeyReused, InvalidCommand } from "./Errors.ts"
import type { EventMetadata, RecordedEvent } from "./Events.ts"
import type { EventStore } from "./EventStore.ts"

export { CommandResults } from "./command-bus/CommandResults.ts"

export interface DispatchOptions {
  /** The command message's own id (e.g. a queue message id): the causation of its events by default. */
  readonly commandId?: string
  /** Shared by everything one request caused; a new id when omitted. */
  readonly correlationId?: string
  /** The message that caused this command (e.g. the event a process manager reacts to). */
  readonly causationId?: string
  /** Run at most once per key: a retry with the same key and command gets the original result. */
  readonly idempotencyKey?: string
  /** Decide only against this stream version (`If-Match`). */
  readonly expectedVersion?: number
  /** Most load-decide-append rounds when writers race (the handler's default otherwise). */
  readonly maxAttempts?: number
  /** Further metadata for every event (actor, ...); the ids above win over the same keys here. */
  readonly metadata?: EventMetadata
}

export type DispatchError<Rejection> = HandleError<Rejection> | IdempotencyKeyReused

/** What a keyed dispatch needs: the store, and where idempotency keys are recorded. */
export type DispatchServices = EventStore | CommandResults

/** One aggregate bound to the bus. The type parameters only type the bus; the functions are the routing. */
export interface Registration<Command, Event, State, Rejection> {
  readonly "~types"?: { readonly command: Command; readonly event: Event; readonly state: State; readonly rejection: Rejection }
  readonly category: string
  readonly schema: Schema.Codec<Command, unknown>
  /** Dispatches `command` when it is one of this aggregate's commands; undefined when it is not. */
  readonly route: (
    command: unknown,
    options: DispatchOptions
  ) => Effect.Effect<Handled<Event, State>, DispatchError<Rejection>, DispatchServices> | undefined
}

export type AnyRegistration = Registration<unknown, unknown, unknown, unknown>

type Types<R extends AnyRegistration> = NonNullable<R["~types"]>

/** Every command the registrations accept. */
export type CommandOf<Regs extends ReadonlyArray<AnyRegistration>> = Types<Regs[number]>["command"]

/** The registration that handles command `C` (distributes over a union of registrations). */
export type RouteOf<Regs extends ReadonlyArray<AnyRegistration>, C> = Regs[number] extends infer R
  ? R extends AnyRegistration ? [C] extends [Types<R>["command"]] ? R : never : never
  : never

/** The result of dispatching `C`: its aggregate's events and state. */
export type ResultOf<Regs extends ReadonlyArray<AnyRegistration>, C> = C extends unknown
  ? Handled<Types<RouteOf<Regs, C>>["event"], Types<RouteOf<Regs, C>>["state"]>
  : never

/** How dispatching `C` can fail: its aggregate's rejections and the handler's errors. */
export type ErrorOf<Regs extends ReadonlyArray<AnyRegistration>, C> = C extends unknown ? HandleError<Types<RouteOf<Regs, C>>["rejection"]>
  : never

export interface RegistrationOptions<Command, Event, State, Rejection> {
  /** The aggregate's command union (tagged structs). */
  readonly schema: Schema.Codec<Command, unknown>
  readonly handler: CommandHandler<Command, Event, State, Rejection>
  /** The id of the aggregate a command addresses (the handler's stream is `<category>-<id>`). */
  readonly streamOf: (command: Command) => string
}

/** The metadata of a dispatch's events: further keys first, then the ids the bus fills. */
export const metadataOf = (options: DispatchOptions): EventMetadata => {
  const causationId = options.causationId ?? options.metadata?.causationId ?? options.commandId
  const idempotencyKey = options.idempotencyKey ?? options.metadata?.idempotencyKey
  return {
    ...options.metadata,
    correlationId: options.correlationId ?? options.metadata?.correlationId ?? crypto.randomUUID(),
    ...(causationId === undefined ? {} : { causationId }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey })
  }
}

/**
 * The ids of a command caused by a recorded event (a process manager's reaction): the event's correlation
 * (the event's own id when it has none) and the event as causation.
 */
export const causedBy = (event: RecordedEvent): Pick<DispatchOptions, "correlationId" | "causationId"> => ({
  correlationId: typeof event.metadata.correlationId === "string" && event.metadata.correlationId !== ""
    ? event.metadata.correlationId
    : event.eventId,
  causationId: event.eventId
})

export const register = <Command, Event, State, Rejection>(
  options: RegistrationOptions<Command, Event, State, Rejection>
): Registration<Command, Event, State, Rejection> => {
  const { handler, schema, streamOf } = options
  const category = handler.aggregate.category
  const is = Schema.is(schema)
  const encode = Schema.encodeEffect(Schema.toCodecJson(schema))

  const dispatch = (command: Command, options: DispatchOptions) => {
    const id = streamOf(command)
    const handleOptions: HandleOptions = {
      metadata: metadataOf(options),
      ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }),
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts })
    }
    const run = handler.handle(id, command, handleOptions)
    const key = options.idempotencyKey
    if (key === undefined) return run
    return Effect.gen(function*() {
      const results = yield* CommandResults
      // A typed command that does not encode broke its own schema: a bug of its sender.
      const fingerprint = Recorded.fingerprint(category, yield* Effect.orDie(encode(command)))
      const once = yield* results.once(key, fingerprint, run, Recorded.record)
      return once._tag === "Ran" ? once.value : yield* Recorded.replay(handler, id, once.result)
    })
  }

  return {
    category,
    schema,
    route: (command, options) =>
      is(command) ? dispatch(command, options).pipe(Effect.withSpan("CommandBus.dispatch", { attributes: { category } })) : undefined
  }
}

/** Options with an idempotency key: the dispatch also needs `CommandResults` and may find the key reused. */
export type KeyedOptions = DispatchOptions & { readonly idempotencyKey: string }
/** Options without one: the dispatch needs only the store. */
export type UnkeyedOptions = DispatchOptions & { readonly idempotencyKey?: never }

/** `dispatch`, typed by its options: only a keyed dispatch needs `CommandResults` or can fail with a reused key. */
export interface Dispatch<Regs extends ReadonlyArray<AnyRegistration>> {
  <C extends CommandOf<Regs>>(
    command: C,
    options: KeyedOptions
  ): Effect.Effect<ResultOf<Regs, C>, ErrorOf<Regs, C> | IdempotencyKeyReused, DispatchServices>
  <C extends CommandOf<Regs>>(command: C, options?: UnkeyedOptions): Effect.Effect<ResultOf<Regs, C>, ErrorOf<Regs, C>, EventStore>
  <C extends CommandOf<Regs>>(
    command: C,
    options?: DispatchOptions
  ): Effect.Effect<ResultOf<Regs, C>, ErrorOf<Regs, C> | IdempotencyKeyReused, DispatchServices>
}

export interface CommandBus<Regs extends ReadonlyArray<AnyRegistration>> {
  readonly registrations: Regs
  /** Dispatches a typed command to its aggregate's handler. */
  readonly dispatch: Dispatch<Regs>
  /** Decodes an untyped input (e.g. a message body) as a command of one of the aggregates, then dispatches it. */
  readonly dispatchUnknown: (
    input: unknown,
    options?: DispatchOptions
  ) => Effect.Effect<
    ResultOf<Regs, CommandOf<Regs>>,
    ErrorOf<Regs, CommandOf<Regs>> | IdempotencyKeyReused | InvalidCommand,
    DispatchServices
  >
}

export const make = <const Regs extends ReadonlyArray<AnyRegistration>>(registrations: Regs): CommandBus<Regs> => {
  const decode = Schema.decodeUnknownEffect(Schema.Union(registrations.map((registration) => registration.schema)))

  const routed = (command: unknown, options: DispatchOptions) => {
    for (const registration of registrations) {
      const effect = registration.route(command, options)
      if (effect !== undefined) return effect
    }
    return undefined
  }

  // A typed command that no schema accepts (its tag is not registered, or its value breaks its own schema)
  // is a bug of its sender.
  const dispatchAny = (command: unknown, options: DispatchOptions = {}) =>
    routed(command, options) ?? Effect.die(new Error("no aggregate of the command bus accepts this command"))

  return {
    registrations,
    // The registration whose schema accepted the command is the one `RouteOf` names: its result and errors
    // are the ones the signature promises (the routing is by the same schema the types come from), and a
    // dispatch without a key never touches `CommandResults` nor fails with a reused key.
    dispatch: dispatchAny as Dispatch<Regs>,
    dispatchUnknown: (input, options) =>
      decode(input).pipe(
        Effect.mapError((error) => new InvalidCommand({ issue: error.message })),
        Effect.flatMap((command) => dispatchAny(command, options))
      ) as ReturnType<CommandBus<Regs>["dispatchUnknown"]>
  }
}
