/**
 * Where a relay sends integration events: a message broker behind one small contract. `publish` resolves
 * only once the broker has acknowledged (persisted) every message of the call; it may keep them all in
 * flight at once, but the broker must store them in the order given, so order per event stream holds.
 * Every message carries the event id, by which the broker (JetStream) or the consumers (AMQP, which has
 * no de-duplication) drop a republished duplicate (a relay republishes a batch whose acknowledgement it
 * did not see).
 */
import { type Effect, Schema } from "effect"

/** One message to publish. */
export interface OutboundMessage {
  /** `<category>.<type>` of the integration event; the sink adds its own prefix (a subject, a topic). */
  readonly subject: string
  /** The stored event's id (with a `/<n>` suffix for the n-th further integration event it maps to). */
  readonly id: string
  readonly headers: Readonly<Record<string, string>>
  /** The integration event `{ type, version, data }` as UTF-8 JSON. */
  readonly payload: Uint8Array
}

/**
 * Why the broker did not acknowledge a publish.
 * - `Unavailable`: not connected, no responder, timed out waiting for an ack (retryable);
 * - `OutOfOrder`: the broker refused a message whose predecessor it had not stored (an earlier message
 *   was lost in flight); republishing from the first unacknowledged message succeeds (retryable);
 * - `Rejected`: the broker refused the message itself (too large, not allowed) (not retryable).
 */
export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  reason: Schema.Literals(["Unavailable", "OutOfOrder", "Rejected"]),
  detail: Schema.String,
  /** Id of the first message that failed, when known. */
  messageId: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {
  /** True when publishing the same messages again can succeed without anything changing. */
  get retryable(): boolean {
    return this.reason !== "Rejected"
  }

  override get message() {
    return `broker ${this.reason}: ${this.detail}`
  }
}

export interface Sink {
  /** Publishes `messages` in order; succeeds once the broker acknowledged all of them. */
  readonly publish: (messages: ReadonlyArray<OutboundMessage>) => Effect.Effect<void, SinkError>
}
