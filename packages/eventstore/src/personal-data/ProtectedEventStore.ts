/**
 * Crypto-shredding as an `EventStore` decorator: every personal-data field (see `PersonalFields`) is
 * encrypted under its data subject's key before it is appended, and decrypted on every read path (stream
 * reads, snapshots, the global order, subscriptions), so projections, the command handler and the replayer
 * all see plaintext without knowing about it. Once a subject is forgotten its fields read as their
 * placeholder and the event lists them in `erasedFields`.
 *
 * Snapshots are encrypted too, under the keys of every subject whose data their stream holds: a snapshot
 * saved in a race with a forget still becomes unreadable with the key, and an unreadable snapshot is simply
 * not used (the state is folded from the events instead).
 */
import { Effect, Layer, Option, Stream } from "effect"
import { PersonalDataError, type StoreUnavailable } from "../Errors.ts"
import type { NewEvent, RecordedEvent } from "../Events.ts"
import { EventStore, type SnapshotRecord, type StreamWrite } from "../EventStore.ts"
import * as Envelope from "./Envelope.ts"
import type { PersonalFieldMap } from "./PersonalFields.ts"
import { SubjectKeys } from "./SubjectKeys.ts"

const SNAPSHOT_FIELD = "$snapshot"

export const make = (fields: PersonalFieldMap) =>
  Effect.gen(function*() {
    const inner = yield* EventStore
    const keys = yield* SubjectKeys

    // --- writing ----------------------------------------------------------------------------------------------
    // An event type declared personal without its subject field is a programming error: a defect.
    const subjectOf = (event: NewEvent, subjectField: string): Effect.Effect<string> => {
      const value = (event.data as Record<string, unknown> | null)?.[subjectField]
      return typeof value === "string" && value.length > 0
        ? Effect.succeed(value)
        : Effect.die(new Error(`${event.type}: personal data needs its subject in field "${subjectField}"`))
    }

    const encrypt = (writes: ReadonlyArray<StreamWrite>) =>
      Effect.gen(function*() {
        const wanted = new Map<string, Set<string>>()
        for (const write of writes) {
          for (const event of write.events) {
            for (const field of fields.get(event.type) ?? []) {
              const data = event.data as Record<string, unknown> | null
              if (data?.[field.field] === undefined || Envelope.isEnvelope(data[field.field])) continue
              const subject = yield* subjectOf(event, field.subjectField)
              let streams = wanted.get(subject)
              if (streams === undefined) wanted.set(subject, streams = new Set())
              streams.add(write.stream)
            }
          }
        }
        if (wanted.size === 0) return writes
        const subjectKeys = yield* keys.forWriting(wanted)
        return writes.map((write) => ({
          ...write,
          events: write.events.map((event) => {
            const personal = fields.get(event.type)
            if (personal === undefined) return event
            const data = { ...(event.data as Record<string, unknown>) }
            for (const field of personal) {
              if (data[field.field] === undefined || Envelope.isEnvelope(data[field.field])) continue
              const subject = String(data[field.subjectField])
              data[field.field] = Envelope.seal(subjectKeys.get(subject)!, subject, field.field, data[field.field], field.placeholder)
            }
            return { ...event, data }
          })
        }))
      })

    // --- reading ----------------------------------------------------------------------------------------------
    const envelopesOf = (event: RecordedEvent): ReadonlyArray<readonly [string, Envelope.Envelope]> | undefined => {
      const data = event.data
      if (typeof data !== "object" || data === null) return undefined
      let found: Array<readonly [string, Envelope.Envelope]> | undefined
      for (const key in data) {
        const value = (data as Record<string, unknown>)[key]
        if (Envelope.isEnvelope(value)) (found ??= []).push([key, value])
      }
      return found
    }

    const corrupt = (subject: string, where: string) =>
      new PersonalDataError({ reason: "CorruptCiphertext", subject, detail: `the ciphertext of ${where} does not authenticate` })

    const decrypt = (events: ReadonlyArray<RecordedEvent>) =>
      Effect.gen(function*() {
        const found = events.map(envelopesOf)
        const subjects = new Set<string>()
        for (const envelopes of found) for (const [, envelope] of envelopes ?? []) subjects.add(envelope.s)
        if (subjects.size === 0) return events
        const states = yield* keys.forReading([...subjects])
        const out = new Array<RecordedEvent>(events.length)
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!
          const envelopes = found[i]
          if (envelopes === undefined) {
            out[i] = event
            continue
          }
          const data = { ...(event.data as Record<string, unknown>) }
          const erased: Array<string> = []
          for (const [field, envelope] of envelopes) {
            const state = states.get(envelope.s)!
            if (state._tag === "Forgotten") {
              data[field] = envelope.p
              erased.push(field)
            } else if (state._tag === "Missing") {
              return yield* new PersonalDataError({
                reason: "MissingDataKey",
                subject: envelope.s,
                detail: `no data key exists for the subject of ${event.streamId}@${event.version}.${field}`
              })
            } else {
              const opened = Envelope.open(state.key, field, envelope)
              if (opened === undefined) return yield* corrupt(envelope.s, `${event.streamId}@${event.version}.${field}`)
              data[field] = opened.value
            }
          }
          out[i] = erased.length > 0 ? { ...event, data, erasedFields: erased } : { ...event, data }
        }
        return out
      })

    // --- snapshots --------------------------------------------------------------------------------------------
    const sealSnapshot = (snapshot: SnapshotRecord) =>
      Effect.gen(function*() {
        const subjects = yield* keys.subjectsOf(snapshot.streamId)
        if (subjects.length === 0) return Option.some(snapshot)
        const subjectKeys = yield* keys.forReading(subjects)
        let state: unknown = snapshot.state
        for (const subject of subjects) {
          const key = subjectKeys.get(subject)
          // A subject already forgotten: the snapshot could not outlive its key, so it is not written at all.
          if (key?._tag !== "Key") return Option.none<SnapshotRecord>()
          state = Envelope.seal(key.key, subject, SNAPSHOT_FIELD, state, null)
        }
        return Option.some({ ...snapshot, state })
      })

    /** The snapshot's state, or none when a key it needs is gone (then the caller folds the events). */
    const openSnapshot = (snapshot: SnapshotRecord) =>
      Effect.gen(function*() {
        let state = snapshot.state
        while (Envelope.isEnvelope(state)) {
          const envelope: Envelope.Envelope = state
          const key = (yield* keys.forReading([envelope.s])).get(envelope.s)
          if (key?._tag !== "Key") return Option.none<SnapshotRecord>()
          const opened = Envelope.open(key.key, SNAPSHOT_FIELD, envelope)
          if (opened === undefined) return yield* corrupt(envelope.s, `the snapshot of ${snapshot.streamId}`)
          state = opened.value
        }
        return Option.some({ ...snapshot, state })
      })

    return EventStore.of({
      ...inner,
      append: (stream, expected, events, options) =>
        encrypt([{ stream, expected, events }]).pipe(
          Effect.flatMap(([write]) => inner.append(stream, expected, write!.events, options))
        ),
      appendMany: (writes, options) => encrypt(writes).pipe(Effect.flatMap((sealed) => inner.appendMany(sealed, options))),
      readStream: (stream, options) => inner.readStream(stream, options).pipe(Effect.flatMap(decrypt)),
      readStreamWithSnapshot: (stream, snapshotKey) =>
        Effect.gen(function*() {
          const loaded = yield* inner.readStreamWithSnapshot(stream, snapshotKey)
          if (Option.isNone(loaded.snapshot)) return { ...loaded, events: yield* decrypt(loaded.events) }
          const snapshot = yield* openSnapshot(loaded.snapshot.value)
          if (Option.isSome(snapshot)) return { ...loaded, snapshot, events: yield* decrypt(loaded.events) }
          const all = yield* inner.readStream(stream)
          return { snapshot, events: yield* decrypt(all), version: loaded.version }
        }),
      readAll: (options) =>
        inner.readAll(options).pipe(Effect.flatMap((page) => Effect.map(decrypt(page.events), (events) => ({ ...page, events })))),
      streamAll: (options) =>
        inner.streamAll(options).pipe(
          // decrypt maps each event to one event, so a non-empty chunk stays non-empty.
          Stream.mapArrayEffect((chunk) => decrypt(chunk) as Effect.Effect<typeof chunk, PersonalDataError | StoreUnavailable>)
        ),
      subscribe: (options) =>
        inner.subscribe(options).pipe(
          Stream.mapEffect((batch) => Effect.map(decrypt(batch.events), (events) => ({ ...batch, events })))
        ),
      saveSnapshot: (snapshot) =>
        sealSnapshot(snapshot).pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: inner.saveSnapshot })),
          // Snapshots are a cache: a key problem must not fail the command that triggered one.
          Effect.catchTag("PersonalDataError", () => Effect.void)
        )
    })
  })

/** Wraps the `EventStore` it is given; needs `SubjectKeys`. */
export const layer = (fields: PersonalFieldMap) => Layer.effect(EventStore, make(fields))
