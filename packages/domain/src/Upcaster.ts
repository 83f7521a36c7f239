/**
 * The shape of schema evolution, as the event store runs it. The store keeps each event as (type = the
 * `_tag`, schemaVersion, data = the JSON-encoded event without `_tag`); on read it runs a chain of
 * upcasters on that raw JSON, before any Schema decodes it. The interfaces below repeat the store's own
 * (the store and this package never import each other; TypeScript matches them structurally).
 *
 * Chain rules (the store enforces them): an upcaster for (`type`, `fromVersion`) turns one stored payload
 * into one or more payloads, each either the same type at a later version or another (renamed) type; the
 * store repeats until every piece is at the current version of its type (the aggregate's versions map),
 * then decodes each piece with the current event Schema. A retired type never reaches the Schema, so it has
 * no entry in the versions map, only upcasters. An upcaster that throws becomes a typed decode error of the
 * stored event; an upcaster must never drop data silently.
 */

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
  readonly metadata: Record<string, unknown>
  readonly recordedAt: Date
}

/** One step of schema evolution: (`type`, `fromVersion`) -> one or more later payloads. */
export interface Upcaster {
  readonly type: string
  readonly fromVersion: number
  readonly upcast: (data: unknown, context: UpcastContext) => StoredPayload | ReadonlyArray<StoredPayload>
}

/** `type@version`: how a (stored type, schema version) pair is named in errors, docs and fixtures. */
export const key = (type: string, schemaVersion: number): string => `${type}@${schemaVersion}`
