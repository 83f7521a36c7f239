/**
 * What the relay tests check on what reached JetStream: the store's order of the published events, ids in
 * stream order, versions increasing per event stream, and waiting for a message count.
 */
import { assert } from "@effect/vitest"
import { Checkpoint, EventStore } from "@verity/eventstore"
import { eventually } from "@verity/postgres/testing"
import { type Duration, Effect } from "effect"
import { Relay } from "../../src/index.ts"
import { countMessages, type StoredMessage } from "../Nats.ts"

/** The event ids the store holds for the category's published type, in the global (commit-safe) order. */
export const storedOrder = (category: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const page = yield* store.readAll({ from: Checkpoint.start, limit: 100_000, categories: [category], types: ["Sent"] })
    return page.events.map((e) => e.eventId)
  })

export const idsOf = (messages: ReadonlyArray<StoredMessage>) => messages.map((m) => m.headers["Nats-Msg-Id"])

/** Per stream, versions strictly increasing in JetStream order. */
export const assertStreamOrder = (messages: ReadonlyArray<StoredMessage>) => {
  const last = new Map<string, number>()
  for (const m of messages) {
    const stream = m.headers[Relay.Headers.stream]!
    const version = Number(m.headers[Relay.Headers.streamVersion])
    assert.isAbove(version, last.get(stream) ?? 0, `${stream} out of order at seq ${m.seq}`)
    last.set(stream, version)
  }
}

export const waitForCount = (servers: string, stream: string, n: number, timeout: Duration.Input = "60 seconds") =>
  eventually(`${n} messages in ${stream}`, countMessages(servers, stream), (count) => count >= n, { timeout, interval: "50 millis" })
