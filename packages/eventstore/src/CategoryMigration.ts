/**
 * Copy-and-transform: rewrites every stream of a category into another store (or another category of the
 * same store) with each event upcast to its CURRENT schema version, for teams that want to retire old
 * versions and their upcasters. The source is only read; nothing is edited in place.
 *
 * - Streams keep their names (or move to `targetCategory`), versions and order; events keep their
 *   metadata plus `migratedFrom` (source position, version, type and schema version). An event that an
 *   upcaster split becomes several events, so versions can shift: the report says how many streams did.
 * - Event ids: kept when the target is another store; derived deterministically (UUID v5 of the old id)
 *   within the same store, so re-running after a crash skips what was already copied (idempotent appends).
 * - `dryRun` upcasts and decodes everything and reports what would change, writing nothing.
 */
import { Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import type { AppendError, EventDecodeError, ReadAllError } from "./Errors.ts"
import type { EventCodec } from "./EventCodec.ts"
import type { NewEvent, RecordedEvent } from "./Events.ts"
import type { EventStore } from "./EventStore.ts"
import * as StreamName from "./StreamName.ts"

export interface MigrationOptions<E> {
  readonly category: string
  readonly codec: EventCodec<E>
  readonly source: EventStore["Service"]
  /** Defaults to the source store (then `targetCategory` must differ from `category`). */
  readonly target?: EventStore["Service"]
  readonly targetCategory?: string
  readonly dryRun: boolean
  readonly onProgress?: (progress: MigrationReport) => Effect.Effect<void>
}

export interface MigrationReport {
  readonly streams: number
  readonly eventsRead: number
  readonly eventsWritten: number
  /** Events whose stored (type, version) was not current, by `type@version`. */
  readonly upcast: Readonly<Record<string, number>>
  /** Streams whose versions changed because an event was split into several. */
  readonly streamsRenumbered: number
  readonly dryRun: boolean
}

/** RFC 4122 version 5 (SHA-1, name-based) in a fixed namespace: the same old id always maps to one new id. */
const NAMESPACE = Buffer.from("6f1b2d1e8a7c4f0e9b3a5c7d9e1f2a3b", "hex")
export const derivedEventId = (eventId: string): string => {
  const hash = createHash("sha1").update(NAMESPACE).update(eventId).digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const run = <E>(options: MigrationOptions<E>): Effect.Effect<MigrationReport, EventDecodeError | ReadAllError | AppendError> =>
  Effect.gen(function*() {
    const target = options.target ?? options.source
    const targetCategory = options.targetCategory ?? options.category
    const sameStore = options.target === undefined
    if (sameStore && targetCategory === options.category) {
      return yield* Effect.die(new Error("copying a category onto itself: give another target category or store"))
    }
    if (!StreamName.validCategory(targetCategory)) return yield* Effect.die(new Error(`invalid category ${targetCategory}`))
    const upcast: Record<string, number> = {}
    let eventsRead = 0
    let eventsWritten = 0
    const versions = new Map<string, number>()
    const renumbered = new Set<string>()

    const rename = (stream: string) => `${targetCategory}${stream.slice(options.category.length)}`

    const copy = (event: RecordedEvent) =>
      Effect.gen(function*() {
        eventsRead++
        if (options.codec.versions[event.type] !== event.schemaVersion) {
          const key = `${event.type}@${event.schemaVersion}`
          upcast[key] = (upcast[key] ?? 0) + 1
        }
        const decoded = yield* options.codec.decode(event)
        const stream = rename(event.streamId)
        const before = versions.get(stream) ?? event.version - 1
        if (decoded.length !== 1 || before !== event.version - 1) renumbered.add(stream)
        versions.set(stream, before + decoded.length)
        if (options.dryRun || decoded.length === 0) return
        const events: Array<NewEvent> = decoded.map((domainEvent, index) => {
          const encoded = options.codec.encode(domainEvent)
          const baseId = sameStore ? derivedEventId(event.eventId) : event.eventId
          return {
            eventId: index === 0 ? baseId : derivedEventId(`${baseId}/${index}`),
            type: encoded.type,
            schemaVersion: encoded.schemaVersion,
            data: encoded.data,
            metadata: {
              ...event.metadata,
              migratedFrom: {
                position: event.position.toString(),
                version: event.version,
                type: event.type,
                schemaVersion: event.schemaVersion
              }
            }
          }
        })
        // Expected version = what this copy wrote so far: a concurrent writer to the target is an error.
        yield* target.append(stream, before === 0 ? "no_stream" : before, events)
        eventsWritten += events.length
      })

    const report = (): MigrationReport => ({
      streams: versions.size,
      eventsRead,
      eventsWritten,
      upcast,
      streamsRenumbered: renumbered.size,
      dryRun: options.dryRun
    })

    yield* options.source.streamAll({ categories: [options.category], limit: 5_000 }).pipe(
      Stream.runForEach((event) =>
        copy(event).pipe(
          Effect.andThen(
            eventsRead % 10_000 === 0 && options.onProgress !== undefined ? options.onProgress(report()) : Effect.void
          )
        )
      )
    )
    return report()
  })
