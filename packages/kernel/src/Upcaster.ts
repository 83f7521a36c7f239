/**
 * Schema evolution of stored events, and the one algorithm that runs it. A store keeps each event as
 * (type = the `_tag`, schemaVersion, data = the JSON-encoded event without `_tag`); on read, a chain of
 * upcasters turns the raw JSON of an older version into current versions, before any Schema decodes it.
 *
 * Chain rules (`chain` enforces them): an upcaster for (`type`, `fromVersion`) turns one stored payload into
 * one or more payloads, each either the same type at a later version or another (renamed) type; the chain
 * repeats until every piece is at the current version of its type (the `versions` map), then the caller
 * decodes each piece with the current event Schema. A retired type has no entry in `versions`, only
 * upcasters. Whatever cannot be brought to a current version (an unknown type, a gap in the chain, a stored
 * version newer than the code's, an upcaster that throws or does not raise the version, a chain that does
 * not terminate) is an `UpcastError` with a `reason`, never an exception and never a dropped event.
 */
import { Result, Schema } from "effect"

/** A stored payload: the event's type, the schema version its data was written at, and the raw JSON data. */
export interface StoredPayload {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

/** Where the stored payload comes from (for upcasters whose conversion depends on it). */
export interface UpcastContext {
  readonly streamId: string
  /** The stored event's version in its stream. */
  readonly version: number
  readonly metadata: Readonly<Record<string, unknown>>
  readonly recordedAt: Date
}

/**
 * One step of schema evolution: (`type`, `fromVersion`) -> one or more later payloads. It works on raw JSON,
 * before any Schema runs, so retired shapes need no Schema of their own.
 */
export interface Upcaster {
  readonly type: string
  readonly fromVersion: number
  readonly upcast: (data: unknown, context: UpcastContext) => StoredPayload | ReadonlyArray<StoredPayload>
}

/**
 * Declares an upcaster, typing the old payload as `In`. Nothing can check that stored JSON has that shape
 * (no Schema exists for retired versions): golden fixtures of every stored version check it instead.
 */
export const upcaster = <In>(
  type: string,
  fromVersion: number,
  upcast: (data: In, context: UpcastContext) => StoredPayload | ReadonlyArray<StoredPayload>
): Upcaster => ({
  type,
  fromVersion,
  // The declared input type is the upcaster author's claim about retired data (see above).
  upcast: (data, context) => upcast(data as In, context)
})

/** `type@version`: how a (stored type, schema version) pair is named in errors, docs and fixtures. */
export const key = (type: string, schemaVersion: number): string => `${type}@${schemaVersion}`

/** Most upcaster steps for one stored payload; more means the chain loops. */
export const MAX_UPCAST_STEPS = 1_000

/** Why a stored payload could not be brought to current versions. */
export const UpcastFailure = Schema.Literals([
  /** Neither a current type nor one with an upcaster. */
  "UnknownType",
  /** A current type stored at an older version that no upcaster starts from (a gap in the chain). */
  "MissingUpcaster",
  /** Stored by newer code than this (roll the code forward, never the data back). */
  "NewerThanCode",
  /** The upcaster threw. */
  "UpcasterFailed",
  /** The upcaster returned its own type at the same or a lower version. */
  "VersionNotRaised",
  /** More than `MAX_UPCAST_STEPS` steps: the upcasters form a loop. */
  "NotTerminating"
])
export type UpcastFailure = typeof UpcastFailure.Type

/** A stored payload that cannot be upcast: which piece (`type`, `schemaVersion`) failed and why. */
export class UpcastError extends Schema.TaggedError<UpcastError>()("UpcastError", {
  reason: UpcastFailure,
  type: Schema.String,
  schemaVersion: Schema.Number,
  message: Schema.String
}) {}

/** A chain's definition: the current version of every current event type, and the upcasters. */
export interface ChainOptions {
  readonly versions: Readonly<Record<string, number>>
  readonly upcasters: ReadonlyArray<Upcaster>
}

/** A compiled chain: upcasts one stored payload into payloads at current versions. */
export type Chain = (payload: StoredPayload, context: UpcastContext) => Result.Result<ReadonlyArray<StoredPayload>, UpcastError>

const failure = (reason: UpcastFailure, piece: StoredPayload, message: string) =>
  Result.fail(new UpcastError({ reason, type: piece.type, schemaVersion: piece.schemaVersion, message }))

/**
 * Compiles a chain. Two upcasters for one (type, version) are a programming error in the chain's
 * definition, found when the module defining it loads: that alone throws.
 */
export const chain = (options: ChainOptions): Chain => {
  const { versions } = options
  const byKey = new Map<string, Upcaster>()
  for (const u of options.upcasters) {
    const k = key(u.type, u.fromVersion)
    if (byKey.has(k)) throw new Error(`two upcasters for ${k}`)
    byKey.set(k, u)
  }
  return (payload, context) => {
    const done: Array<StoredPayload> = []
    const todo: Array<StoredPayload> = [payload]
    let steps = 0
    let current = todo.shift()
    for (; current !== undefined; current = todo.shift()) {
      const target = versions[current.type]
      if (target === current.schemaVersion) {
        done.push(current)
        continue
      }
      const step = byKey.get(key(current.type, current.schemaVersion))
      if (step === undefined) {
        return target === undefined
          ? failure("UnknownType", current, `unknown event type ${current.type} v${current.schemaVersion}`)
          : target < current.schemaVersion
          ? failure("NewerThanCode", current, `stored version ${current.schemaVersion} is newer than this code's version ${target}`)
          : failure("MissingUpcaster", current, `no upcaster from ${current.type} v${current.schemaVersion}`)
      }
      if (++steps > MAX_UPCAST_STEPS) return failure("NotTerminating", current, "upcaster chain does not terminate")
      let produced: StoredPayload | ReadonlyArray<StoredPayload>
      try {
        produced = step.upcast(current.data, context)
      } catch (error) {
        return failure("UpcasterFailed", current, `upcaster ${current.type} v${current.schemaVersion} failed: ${String(error)}`)
      }
      const pieces: ReadonlyArray<StoredPayload> = isPayloadList(produced) ? produced : [produced]
      for (const piece of pieces) {
        if (piece.type === current.type && piece.schemaVersion <= current.schemaVersion) {
          return failure("VersionNotRaised", current, `upcaster ${current.type} v${current.schemaVersion} did not raise the version`)
        }
      }
      todo.unshift(...pieces)
    }
    return Result.succeed(done)
  }
}

const isPayloadList = (produced: StoredPayload | ReadonlyArray<StoredPayload>): produced is ReadonlyArray<StoredPayload> => Array.isArray(produced)
