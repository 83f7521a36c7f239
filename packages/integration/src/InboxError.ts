/**
 * The inbox's errors. `InboxError` wraps what went wrong with its own machinery (`Database`, `Broker`);
 * `StreamNotParked` answers a retry or skip of a stream that is not parked; `LeaseLost` ends a consuming
 * session whose lease another process took.
 */
import { Schema } from "effect"

export class InboxError extends Schema.TaggedError<InboxError>()("InboxError", {
  reason: Schema.Literals(["Database", "Broker"]),
  inbox: Schema.String,
  operation: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return `inbox ${this.inbox}: ${this.operation} (${this.reason}): ${this.detail}`
  }
}

export class StreamNotParked extends Schema.TaggedError<StreamNotParked>()("StreamNotParked", {
  inbox: Schema.String,
  stream: Schema.String
}) {
  override get message() {
    return `inbox ${this.inbox}: stream ${this.stream} is not parked`
  }
}

/** Maps a failure of `operation` to an `InboxError` of `reason`. */
export const wrap = (inbox: string, operation: string, reason: InboxError["reason"]) => (cause: unknown): InboxError =>
  new InboxError({ reason, inbox, operation, detail: cause instanceof Error ? cause.message : String(cause), cause })

/** The inbox's lease passed to another process: this one commits nothing more and goes back to standby. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  inbox: Schema.String
}) {
  override get message() {
    return `inbox ${this.inbox}: the lease is held by another process`
  }
}
