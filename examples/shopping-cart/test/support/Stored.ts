/**
 * An event's trip through the store without a database: encoded by its codec at the current schema
 * version, written as JSON text (as the `jsonb` column holds it), read back as a recorded event and
 * decoded. What comes back is what every reader of the stream sees.
 */
import type { EventCodec, RecordedEvent } from "@verity/eventstore"
import { Checkpoint } from "@verity/eventstore"
import { Result } from "effect"

export const storedAndRead = <E>(codec: EventCodec.EventCodec<E>, event: E, streamId = "test-1"): ReadonlyArray<E> => {
  const encoded = codec.encode(event)
  const recorded: RecordedEvent = {
    streamId,
    version: 1,
    position: 1n,
    transactionId: 1n,
    checkpoint: Checkpoint.make(1n, 1n),
    eventId: "00000000-0000-4000-8000-000000000000",
    type: encoded.type,
    schemaVersion: encoded.schemaVersion,
    data: JSON.parse(JSON.stringify(encoded.data)),
    metadata: {},
    recordedAt: new Date(0)
  }
  return Result.getOrThrow(codec.decodeResult(recorded))
}
