/**
 * Rehydration: loading an aggregate of STREAM_LENGTH events through `CommandHandler.load`, without and with
 * a snapshot, plus the two halves of the cost measured apart (the bare `readStream`, and decode + fold of
 * already-read events in memory), so it is visible whether time goes to the database or to decoding.
 * One client, loads back to back: this is per-load latency, not throughput under contention.
 */
import { Effect, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as CommandHandler from "../src/CommandHandler.ts"
import * as EventId from "../src/EventId.ts"
import type { NewEvent } from "../src/Events.ts"
import { EventStore } from "../src/EventStore.ts"
import * as Ledger from "./Ledger.ts"
import * as Measure from "./Measure.ts"
import * as Payload from "./Payload.ts"

export const STREAM_LENGTH = 1_000
const SNAPSHOT_KEY = "ledger-bench-v1"

export interface RehydrateResult {
  readonly streamLength: number
  readonly loadFull: Measure.RunResult
  readonly loadSnapshot: Measure.RunResult
  readonly readStream: Measure.RunResult
  readonly decodeFold: Measure.RunResult
}

/** A bench setup that does not hold is a bug to stop on, not a number to print. */
const check = (condition: boolean, message: string) => condition ? Effect.void : Effect.die(new Error(`rehydrate setup: ${message}`))

export const run = (options: Measure.RunOptions) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const plain = CommandHandler.make({ category: "ledger", decider: Ledger.decider, codec: Ledger.codec })
    const snapshotted = CommandHandler.make({
      category: "ledger",
      decider: Ledger.decider,
      codec: Ledger.codec,
      snapshot: { key: SNAPSHOT_KEY, schema: Ledger.State, every: STREAM_LENGTH }
    })
    const id = randomUUID()
    const stream = plain.streamOf(id)

    const history = Ledger.history(STREAM_LENGTH)
    const now = Date.now()
    const events = history.map((event): NewEvent => {
      const encoded = Ledger.codec.encode(event)
      return { eventId: EventId.make(now), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
    })
    yield* store.append(stream, "no_stream", events, { metadata: Payload.metadata("user:alice@example.com") })

    // The snapshot a handler with `every: 1000` would have taken after the 1,000th event.
    let expected = Ledger.decider.initialState
    for (const event of history) expected = Ledger.decider.evolve(expected, event)
    const state = Schema.encodeSync(Schema.toCodecJson(Ledger.State))(expected)
    yield* store.saveSnapshot({ streamId: stream, key: SNAPSHOT_KEY, version: STREAM_LENGTH, state })

    // Both paths must give the same answer, and the snapshot path must really skip the events.
    const full = yield* plain.load(id)
    const fromSnapshot = yield* snapshotted.load(id)
    const withSnapshot = yield* store.readStreamWithSnapshot(stream, SNAPSHOT_KEY)
    yield* check(full.version === STREAM_LENGTH && JSON.stringify(full.state) === JSON.stringify(expected), "full load differs")
    yield* check(
      fromSnapshot.version === STREAM_LENGTH && JSON.stringify(fromSnapshot.state) === JSON.stringify(expected),
      "snapshot load differs"
    )
    yield* check(Option.isSome(withSnapshot.snapshot) && withSnapshot.events.length === 0, "snapshot not used")

    yield* Measure.progress(`rehydrate: load without snapshot (${STREAM_LENGTH} events)`)
    const loadFull = yield* Measure.run([() => Effect.as(plain.load(id), STREAM_LENGTH)], options)
    yield* Measure.progress("rehydrate: load with snapshot at version 1000")
    const loadSnapshot = yield* Measure.run([() => Effect.as(snapshotted.load(id), withSnapshot.events.length)], options)
    yield* Measure.progress("rehydrate: bare readStream (no decode)")
    const readStream = yield* Measure.run([() => Effect.map(store.readStream(stream), (read) => read.length)], options)
    yield* Measure.progress("rehydrate: decode + fold in memory (no database)")
    const recorded = yield* store.readStream(stream)
    const decodeFold = yield* Measure.run([() =>
      Effect.map(Ledger.codec.decodeAll(recorded), (decoded) => {
        let s = Ledger.decider.initialState
        for (const event of decoded) s = Ledger.decider.evolve(s, event)
        return s.transactions + 1
      })], options)
    return { streamLength: STREAM_LENGTH, loadFull, loadSnapshot, readStream, decodeFold } satisfies RehydrateResult
  })
