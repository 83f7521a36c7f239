/**
 * A stream's stored events as the API shows them (`GET /accounts/{id}/events`, `GET /transfers/{id}/events`):
 * each event at its CURRENT type and schema version, upcast by the stream's codec, with its metadata, and
 * how it is stored when that differs. Shared so every history endpoint answers with the same shape.
 */
import type { EventCodec, RecordedEvent } from "@verity/eventstore"
import { Result, type Schema } from "effect"
import type { HistoryEvent } from "./accounts/Api.ts"

/** One stored event as history entries at current versions (several when an upcaster splits it). */
export const entries = (codec: Pick<EventCodec.EventCodec<unknown>, "upcast">) => (event: RecordedEvent): ReadonlyArray<typeof HistoryEvent.Type> => {
  const common = {
    version: event.version,
    position: event.position.toString(),
    eventId: event.eventId,
    recordedAt: event.recordedAt.toISOString(),
    // Metadata is a JSON object by construction (stored as jsonb): only its static type is narrower.
    metadata: event.metadata as Schema.Json,
    erasedFields: event.erasedFields ?? []
  }
  const stored = { type: event.type, schemaVersion: event.schemaVersion }
  const upcast = codec.upcast(event, event)
  if (Result.isFailure(upcast)) {
    return [{ ...common, ...stored, data: event.data as Schema.Json, upcastError: upcast.failure.message }]
  }
  return upcast.success.map((piece) => ({
    ...common,
    type: piece.type,
    schemaVersion: piece.schemaVersion,
    data: piece.data as Schema.Json,
    ...(piece.type === event.type && piece.schemaVersion === event.schemaVersion ? {} : { storedAs: stored })
  }))
}
