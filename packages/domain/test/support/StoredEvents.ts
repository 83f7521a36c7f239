/**
 * How the event store reads and writes one aggregate's events, for tests without a database: the upcast
 * chain is the kernel's (`Upcaster.chain`, the one the store's `EventCodec` runs); decoding and encoding
 * follow the store's `EventCodec` (not imported: the domain never imports the store).
 * - `upcast`: the aggregate's compiled chain, failing with a typed `UpcastError`.
 * - `read`: upcast, then decode each piece with the aggregate's event Schema through its JSON codec.
 * - `write`: encode a current event as the store writes it: type = `_tag`, the current schema version, data =
 *   the JSON encoding without `_tag`.
 */
import { Result, Schema } from "effect"
import * as Account from "../../src/Account.ts"
import * as Transfer from "../../src/Transfer.ts"
import { chain, type ChainOptions, type StoredPayload, type UpcastContext, type Upcaster } from "../../src/Upcaster.ts"

/** The context golden fixtures and generated payloads are read in (no domain upcaster depends on it). */
export const testContext: UpcastContext = {
  streamId: "account-0a000000-0000-4000-8000-000000000001",
  version: 1,
  metadata: {},
  recordedAt: new Date(1_700_000_000_000)
}

/** Compiles a chain and reads in `testContext` unless told otherwise. */
export const upcaster = (options: ChainOptions) => {
  const run = chain(options)
  return (payload: StoredPayload, context: UpcastContext = testContext) => run(payload, context)
}

/** A current event as stored, without its schema version: what golden fixtures list under `expected`. */
export interface CurrentEvent {
  readonly type: string
  readonly data: unknown
}

export interface Aggregate<E> extends ChainOptions {
  /** The folder of its golden fixtures under golden/. */
  readonly name: string
  readonly upcast: ReturnType<typeof upcaster>
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
      if (Result.isFailure(upcasted)) return Result.fail(upcasted.failure.message)
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
