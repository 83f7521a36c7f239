/**
 * The shapes that cross the event store boundary. The store is generic: payloads are JSON values tagged
 * with a type name and a schema version; turning domain events into these and back is the job of an
 * `EventCodec`. Global positions are `bigint` (PostgreSQL int8); stream versions are numbers (1-based,
 * gapless per stream).
 */
import type { Checkpoint } from "./Checkpoint.ts"

/** Context carried by every event. Known keys are listed; any other JSON-serialisable key is kept too. */
export interface EventMetadata {
  /** Id shared by everything one request caused. */
  readonly correlationId?: string
  /** Id of the message (command or event) that directly caused this one. */
  readonly causationId?: string
  /** Who caused it (a user, a token name, a process). */
  readonly actor?: string
  /** W3C trace context of the writing span. */
  readonly traceparent?: string
  readonly tracestate?: string
  /** The client's idempotency key, when the write came through one. */
  readonly idempotencyKey?: string
  readonly [key: string]: unknown
}

/** An event to append. */
export interface NewEvent {
  /** Client-chosen uuid; a retried append with the same ids is recognised and not duplicated. */
  readonly eventId: string
  readonly type: string
  /** Schema version of `data`; defaults to 1. */
  readonly schemaVersion?: number
  /** Any JSON value. */
  readonly data: unknown
  readonly metadata?: EventMetadata
}

/** An event as stored. */
export interface RecordedEvent {
  readonly streamId: string
  /** 1-based, gapless within the stream. */
  readonly version: number
  /** Global position (insertion order; unique, not gapless, not commit order). */
  readonly position: bigint
  /** Id of the transaction that wrote it (PostgreSQL xid8). */
  readonly transactionId: bigint
  /** Resume point just after this event in the global order. */
  readonly checkpoint: Checkpoint
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
  readonly metadata: EventMetadata
  readonly recordedAt: Date
  /** Personal-data fields that read as their placeholder because their data subject was forgotten. */
  readonly erasedFields?: ReadonlyArray<string>
}

export interface AppendResult {
  readonly streamId: string
  /** The stream's version after the append (the version of its last event). */
  readonly version: number
  /** Global positions of the appended events, in order. */
  readonly positions: ReadonlyArray<bigint>
  /** Checkpoint of the last appended event: a reader that has reached it has seen the whole append. */
  readonly checkpoint: Checkpoint
}

export type StreamState = "active" | "deleted" | "tombstoned"

export interface StreamInfo {
  readonly streamId: string
  /** Version of the last event ever appended (0 when none). */
  readonly version: number
  readonly state: StreamState
  /** Events below this version are hidden from stream reads (retention or soft delete). */
  readonly truncateBefore: number
  readonly createdAt: Date
  readonly updatedAt: Date
}
