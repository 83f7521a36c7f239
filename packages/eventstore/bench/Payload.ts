/**
 * The event every append scenario writes: a bank deposit (~200 bytes of JSON) with the metadata a command
 * handler attaches (correlation, causation, actor). Raw and store appends write exactly these bytes, and
 * both pay for fresh ids and JSON serialisation per event, so their ratio isolates what the store adds.
 */
import { Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as EventId from "../src/EventId.ts"
import type { EventMetadata, NewEvent } from "../src/Events.ts"

export const EVENT_TYPE = "Deposited"

/** A fixed account per client keeps payloads realistic without per-event uuid cost on the hot path. */
export const deposit = (accountId: string, n: number) => ({
  accountId,
  amount: `${100 + (n % 900)}.${String(n % 100).padStart(2, "0")}`,
  currency: "EUR",
  reference: `INV-2026-${String(n % 1_000_000).padStart(6, "0")}`,
  counterparty: "DE89370400440532013000",
  bookedAt: "2026-11-03T10:15:30.123Z"
})

export const metadata = (actor: string): EventMetadata => ({
  correlationId: randomUUID(),
  causationId: randomUUID(),
  actor
})

/** `count` deposit events as the store takes them. */
export const newEvents = (accountId: string, actor: string, n: number, count: number): Array<NewEvent> => {
  const meta = metadata(actor)
  const now = Date.now()
  const events = new Array<NewEvent>(count)
  for (let i = 0; i < count; i++) {
    events[i] = { eventId: EventId.make(now), type: EVENT_TYPE, schemaVersion: 1, data: deposit(accountId, n + i), metadata: meta }
  }
  return events
}

/**
 * An event with personal data: the holder's name and email, annotated so the protected store encrypts
 * them under the account's key (the encryption-on/off pair writes this event both ways).
 */
export const PERSONAL_TYPE = "HolderUpdated"
const personal = (placeholder: string) => ({ personalData: { subjectField: "accountId", placeholder } })
export const HolderUpdated = Schema.TaggedStruct(PERSONAL_TYPE, {
  accountId: Schema.String,
  holderName: Schema.String.annotate(personal("[erased]")),
  holderEmail: Schema.String.annotate(personal("erased@erased.invalid")),
  reference: Schema.String
})

export const personalEvents = (accountId: string, actor: string, n: number, count: number): Array<NewEvent> => {
  const meta = metadata(actor)
  const now = Date.now()
  const events = new Array<NewEvent>(count)
  for (let i = 0; i < count; i++) {
    events[i] = {
      eventId: EventId.make(now),
      type: PERSONAL_TYPE,
      schemaVersion: 1,
      data: {
        accountId,
        holderName: `Ada Lovelace ${(n + i) % 1000}`,
        holderEmail: `ada.${(n + i) % 1000}@example.org`,
        reference: `INV-2026-${String((n + i) % 1_000_000).padStart(6, "0")}`
      },
      metadata: meta
    }
  }
  return events
}

/** The same events as column values for a raw INSERT (what the store's validation produces). */
export interface RawEvents {
  readonly ids: Array<string>
  readonly types: Array<string>
  readonly schemaVersions: Array<number>
  readonly data: Array<string>
  readonly metadata: Array<string>
}

export const rawEvents = (accountId: string, actor: string, n: number, count: number): RawEvents => {
  const meta = JSON.stringify(metadata(actor))
  const now = Date.now()
  const raw: RawEvents = { ids: [], types: [], schemaVersions: [], data: [], metadata: [] }
  for (let i = 0; i < count; i++) {
    raw.ids.push(EventId.make(now))
    raw.types.push(EVENT_TYPE)
    raw.schemaVersions.push(1)
    raw.data.push(JSON.stringify(deposit(accountId, n + i)))
    raw.metadata.push(meta)
  }
  return raw
}

/** Serialised sizes, printed with the results. */
export const sizes = () => ({
  dataBytes: Buffer.byteLength(JSON.stringify(deposit(randomUUID(), 123_456))),
  metadataBytes: Buffer.byteLength(JSON.stringify(metadata("user:alice@example.com")))
})
