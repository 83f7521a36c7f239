/**
 * A minimal model of how the event store reads a stored event, for tests without a database. Same semantics
 * as the store's `EventCodec` (packages/eventstore/src/EventCodec.ts, not imported: the packages never
 * import each other):
 * - `upcast`: run the upcaster chain until every piece is at the current version of its type; an unknown
 *   type, a missing upcaster, a stored version newer than the code's, an upcaster that throws or does not
 *   raise its own type's version, or more than MAX_UPCAST_STEPS steps (a chain that does not terminate) is a
 *   failure with a message, never an exception.
 * - `read`: upcast, then decode each piece with the aggregate's event Schema through its JSON codec.
 * - `write`: encode a current event as the store writes it: type = `_tag`, the current schema version, data =
 *   the JSON encoding without `_tag`.
 */
import { Result, Schema } from "effect"
import * as Account from "../../src/Account.ts"
import * as Transfer from "../../src/Transfer.ts"
import { key, type StoredPayload, type UpcastContext, type Upcaster } from "../../src/Upcaster.ts"

export const MAX_UPCAST_STEPS = 1_000

/** The context golden fixtures and generated payloads are read in (no domain upcaster depends on it). */
export const testContext: UpcastContext = {
  streamId: "account-0a000000-0000-4000-8000-000000000001",
  version: 1,
  metadata: {},
  recordedAt: new Date(1_700_000_000_000)
}

export interface Chain {
  /** The current schema version of every current event type. */
  readonly versions: Readonly<Record<string, number>>
  readonly upcasters: ReadonlyArray<Upcaster>
}

/** The chain runner: as the store's `EventCodec.upcast`. Throws only on a chain with two upcasters for one pair. */
export const upcaster = (chain: Chain) => {
  const byKey = new Map<string, Upcaster>()
  for (const u of chain.upcasters) {
    const k = key(u.type, u.fromVersion)
    if (byKey.has(k)) throw new Error(`two upcasters for ${k}`)
    byKey.set(k, u)
  }
  return (payload: StoredPayload, context: UpcastContext = testContext): Result.Result<ReadonlyArray<StoredPayload>, string> => {
    const done: Array<StoredPayload> = []
    const todo: Array<StoredPayload> = [payload]
    let steps = 0
    while (todo.length > 0) {
      const current = todo.shift()!
      const target = chain.versions[current.type]
      if (target === current.schemaVersion) {
        done.push(current)
        continue
      }
      const step = byKey.get(key(current.type, current.schemaVersion))
      if (step === undefined) {
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
        produced = step.upcast(current.data, context)
      } catch (error) {
        return Result.fail(`upcaster ${current.type} v${current.schemaVersion} failed: ${String(error)}`)
      }
      const pieces: ReadonlyArray<StoredPayload> = Array.isArray(produced) ? produced : [produced as StoredPayload]
      for (const piece of pieces) {
        if (piece.type === current.type && piece.schemaVersion <= current.schemaVersion) {
          return Result.fail(`upcaster ${current.type} v${current.schemaVersion} did not raise the version`)
        }
      }
      todo.unshift(...pieces)
    }
    return Result.succeed(done)
  }
}

/** A current event as stored, without its schema version: what golden fixtures list under `expected`. */
export interface CurrentEvent {
  readonly type: string
  readonly data: unknown
}

export interface Aggregate<E> extends Chain {
  /** The folder of its golden fixtures under golden/. */
  readonly name: string
  readonly upcast: (payload: StoredPayload, context?: UpcastContext) => Result.Result<ReadonlyArray<StoredPayload>, string>
  /** Upcasts then decodes a stored payload into current events, as the store reads it. */
  readonly read: (payload: StoredPayload, context?: UpcastContext) => Result.Result<ReadonlyArray<E>, string>
  /** Encodes a current event as the store writes it. */
  readonly write: (event: E) => StoredPayload
}

const aggregate = <S extends Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }>(
  name: string,
  schema: S,
  versions: Readonly<Record<string, number>>,
  upcasters: ReadonlyArray<Upcaster>
): Aggregate<S["Type"]> => {
  const json = Schema.toCodecJson(schema)
  const decode = Schema.decodeUnknownResult(json)
  const encode = Schema.encodeUnknownSync(json)
  const upcast = upcaster({ versions, upcasters })
  return {
    name,
    versions,
    upcasters,
    upcast,
    read: (payload, context) => {
      const upcasted = upcast(payload, context)
      if (Result.isFailure(upcasted)) return upcasted
      const events: Array<S["Type"]> = []
      for (const piece of upcasted.success) {
        if (typeof piece.data !== "object" || piece.data === null || Array.isArray(piece.data)) {
          return Result.fail(`${piece.type} payload is not a JSON object`)
        }
        const decoded = decode({ ...piece.data, _tag: piece.type })
        if (Result.isFailure(decoded)) return Result.fail(`${piece.type} v${piece.schemaVersion}: ${decoded.failure.message}`)
        events.push(decoded.success)
      }
      return Result.succeed(events)
    },
    write: (event) => {
      const { _tag, ...data } = encode(event) as { readonly _tag: string }
      const schemaVersion = versions[_tag]
      if (schemaVersion === undefined) throw new Error(`no schema version declared for event type ${_tag}`)
      return { type: _tag, schemaVersion, data }
    }
  }
}

export const account: Aggregate<Account.AccountEvent> = aggregate(
  "account",
  Account.AccountEvent,
  Account.AccountEventVersions,
  Account.upcasters
)

export const transfer: Aggregate<Transfer.TransferEvent> = aggregate(
  "transfer",
  Transfer.TransferEvent,
  Transfer.TransferEventVersions,
  Transfer.upcasters
)

/** Reads a stored payload through JSON text first, as it comes back from a jsonb column. */
export const viaJson = (payload: StoredPayload): StoredPayload => JSON.parse(JSON.stringify(payload)) as StoredPayload
