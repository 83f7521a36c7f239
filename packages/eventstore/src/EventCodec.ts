/**
 * The typed layer over the generic store: how one aggregate's domain events become stored
 * (type, schema version, JSON data) and come back, upcasting older stored versions first.
 *
 * - `encode` writes every event at its CURRENT schema version (from `versions`).
 * - `decode` takes any stored version: the upcaster chain maps (type, v) to (type', v + 1), possibly renaming
 *   the type or splitting one event into several, until each piece is at the current version of its type;
 *   then the Schema decodes it. Anything that cannot be brought to a current, valid event is an
 *   `EventDecodeError` naming the stream, version and type, never a silently dropped event. The chain
 *   itself is the shared kernel's (`@verity/kernel` `Upcaster.chain`), the same one the domain tests run.
 */
import { Upcaster as Kernel } from "@verity/kernel"
import { Effect, Result, Schema } from "effect"
import { EventDecodeError } from "./Errors.ts"
import type { RecordedEvent } from "./Events.ts"

/** The shapes of schema evolution, from the shared kernel (re-exported: this module is their public home here). */
export type StoredPayload = Kernel.StoredPayload
export type UpcastContext = Kernel.UpcastContext
export type Upcaster = Kernel.Upcaster
export type UpcastError = Kernel.UpcastError

/** Declares an upcaster, typing the old payload as `In` (see the kernel's `Upcaster.upcaster`). */
export const upcaster = Kernel.upcaster

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
  readonly upcast: Kernel.Chain
}

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
  const decodeJson = Schema.decodeUnknownResult(json)
  const encodeJson = Schema.encodeSync(json)
  // The kernel's chain algorithm; it throws (here, when the codec is made) only on two upcasters for one pair.
  const upcast = Kernel.chain({ versions, upcasters: options.upcasters ?? [] })

  const encode = (event: E): EncodedEvent => {
    const encoded = encodeJson(event) as { readonly _tag: string }
    const { _tag, ...data } = encoded
    const schemaVersion = versions[_tag]
    if (schemaVersion === undefined) throw new Error(`no schema version declared for event type ${_tag}`)
    return { type: _tag, schemaVersion, data }
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
      if (Result.isFailure(upcasted)) return fail(upcasted.failure.message)
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
