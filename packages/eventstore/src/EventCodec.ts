/**
 * The typed layer over the generic store: how one aggregate's domain events become stored
 * (type, schema version, JSON data) and come back, upcasting older stored versions first.
 *
 * - `encode` writes every event at its CURRENT schema version (from `versions`).
 * - `decode` takes any stored version: the upcaster chain maps (type, v) to (type', v + 1), possibly renaming
 *   the type or splitting one event into several, until each piece is at the current version of its type;
 *   then the Schema decodes it. Anything that cannot be brought to a current, valid event is an
 *   `EventDecodeError` naming the stream, version and type, never a silently dropped event.
 */
import { Effect, Result, Schema } from "effect"
import { EventDecodeError } from "./Errors.ts"
import type { RecordedEvent } from "./Events.ts"

/** A stored payload with its type and schema version, as upcasters see it. */
export interface StoredPayload {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

export interface UpcastContext {
  readonly streamId: string
  readonly version: number
  readonly metadata: RecordedEvent["metadata"]
  readonly recordedAt: Date
}

/**
 * One step of schema evolution: turns a payload stored as (`type`, `fromVersion`) into one or more payloads
 * of a later version (the same type at `fromVersion + 1`, or a renamed type). It works on raw JSON, before
 * any Schema runs, so old shapes need no Schema of their own.
 */
export interface Upcaster {
  readonly type: string
  readonly fromVersion: number
  readonly upcast: (data: unknown, context: UpcastContext) => StoredPayload | ReadonlyArray<StoredPayload>
}

/**
 * Declares an upcaster, typing the old payload as `In`. The store cannot check that stored JSON has that
 * shape (no Schema exists for retired versions): golden fixtures of every stored version check it instead.
 */
export const upcaster = <In>(
  type: string,
  fromVersion: number,
  upcast: (data: In, context: UpcastContext) => StoredPayload | ReadonlyArray<StoredPayload>
): Upcaster => ({ type, fromVersion, upcast: (data, context) => upcast(data as In, context) })

export interface EncodedEvent {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

export interface EventCodec<E> {
  /** The current schema version of each event type. */
  readonly versions: Readonly<Record<string, number>>
  readonly encode: (event: E) => EncodedEvent
  /** Upcasts and decodes one stored event into zero or more current events. */
  readonly decodeResult: (event: RecordedEvent) => Result.Result<ReadonlyArray<E>, EventDecodeError>
  readonly decode: (event: RecordedEvent) => Effect.Effect<ReadonlyArray<E>, EventDecodeError>
  readonly decodeAll: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<ReadonlyArray<E>, EventDecodeError>
  /** Upcasts a stored payload to current versions without decoding (for fixtures and migrations). */
  readonly upcast: (payload: StoredPayload, context: UpcastContext) => Result.Result<ReadonlyArray<StoredPayload>, string>
}

const MAX_UPCAST_STEPS = 1_000

export interface EventCodecOptions<S extends Schema.Top> {
  /** A union of tagged structs: the aggregate's current events. */
  readonly schema: S
  /** The current schema version of every event type of `schema`. */
  readonly versions: Readonly<Record<S["Type"] extends { readonly _tag: infer T extends string } ? T : never, number>>
  readonly upcasters?: ReadonlyArray<Upcaster>
}

export const make = <S extends Schema.Top & { readonly Type: { readonly _tag: string } }>(
  options: EventCodecOptions<S>
): EventCodec<S["Type"]> => {
  type E = S["Type"]
  const versions: Readonly<Record<string, number>> = options.versions
  const json = Schema.toCodecJson(options.schema as unknown as Schema.Codec<E, unknown>)
  const decodeJson = Schema.decodeUnknownResult(json as unknown as Schema.Codec<E, unknown>)
  const encodeJson = Schema.encodeSync(json as unknown as Schema.Codec<E, unknown>)
  const upcasters = new Map<string, Upcaster>()
  for (const upcaster of options.upcasters ?? []) {
    const key = `${upcaster.type}@${upcaster.fromVersion}`
    if (upcasters.has(key)) throw new Error(`two upcasters for ${key}`)
    upcasters.set(key, upcaster)
  }

  const encode = (event: E): EncodedEvent => {
    const encoded = encodeJson(event) as { readonly _tag: string }
    const { _tag, ...data } = encoded
    const schemaVersion = versions[_tag]
    if (schemaVersion === undefined) throw new Error(`no schema version declared for event type ${_tag}`)
    return { type: _tag, schemaVersion, data }
  }

  const upcast = (payload: StoredPayload, context: UpcastContext): Result.Result<ReadonlyArray<StoredPayload>, string> => {
    const done: Array<StoredPayload> = []
    const todo: Array<StoredPayload> = [payload]
    let steps = 0
    while (todo.length > 0) {
      const current = todo.shift()!
      const target = versions[current.type]
      if (target === current.schemaVersion) {
        done.push(current)
        continue
      }
      const upcaster = upcasters.get(`${current.type}@${current.schemaVersion}`)
      if (upcaster === undefined) {
        return Result.fail(
          target === undefined
            ? `unknown event type ${current.type} v${current.schemaVersion}`
            : target < current.schemaVersion
            ? `stored version ${current.schemaVersion} is newer than this code's version ${target}`
            : `no upcaster from ${current.type} v${current.schemaVersion}`
        )
      }
      if (++steps > MAX_UPCAST_STEPS) return Result.fail("upcaster chain does not terminate")
      let produced: StoredPayload | ReadonlyArray<StoredPayload>
      try {
        produced = upcaster.upcast(current.data, context)
      } catch (error) {
        return Result.fail(`upcaster ${current.type} v${current.schemaVersion} failed: ${String(error)}`)
      }
      const pieces = Array.isArray(produced) ? produced : [produced as StoredPayload]
      for (const piece of pieces) {
        if (piece.type === current.type && piece.schemaVersion <= current.schemaVersion) {
          return Result.fail(`upcaster ${current.type} v${current.schemaVersion} did not raise the version`)
        }
      }
      todo.unshift(...pieces)
    }
    return Result.succeed(done)
  }

  const decodeResult = (event: RecordedEvent): Result.Result<ReadonlyArray<E>, EventDecodeError> => {
    const fail = (detail: string) =>
      Result.fail(
        new EventDecodeError({
          stream: event.streamId,
          version: event.version,
          type: event.type,
          schemaVersion: event.schemaVersion,
          detail
        })
      )
    let pieces: ReadonlyArray<StoredPayload> = [event]
    if (versions[event.type] !== event.schemaVersion) {
      const upcasted = upcast(event, event)
      if (Result.isFailure(upcasted)) return fail(upcasted.failure)
      pieces = upcasted.success
    }
    const decoded: Array<E> = []
    for (const piece of pieces) {
      if (typeof piece.data !== "object" || piece.data === null || Array.isArray(piece.data)) {
        return fail(`${piece.type} payload is not a JSON object`)
      }
      const result = decodeJson({ ...piece.data, _tag: piece.type })
      if (Result.isFailure(result)) return fail(result.failure.message)
      decoded.push(result.success)
    }
    return Result.succeed(decoded)
  }

  const decodeAll = (events: ReadonlyArray<RecordedEvent>) =>
    Effect.suspend(() => {
      const out: Array<E> = []
      for (const event of events) {
        const result = decodeResult(event)
        if (Result.isFailure(result)) return Effect.fail(result.failure)
        for (const e of result.success) out.push(e)
      }
      return Effect.succeed(out)
    })

  return {
    versions,
    encode,
    decodeResult,
    decode: (event) => Effect.fromResult(decodeResult(event)),
    decodeAll,
    upcast
  }
}
