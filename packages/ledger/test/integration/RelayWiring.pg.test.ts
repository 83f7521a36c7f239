/**
 * The ledger runtime's relay wiring: with `NATS_URL` set (the machine's NATS JetStream), the relay runs
 * among the projections and its checkpoint passes appended events, which it only does once the broker
 * acknowledged them; without `NATS_URL` there is no relay at all.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { EventStore, MasterKeys } from "@verity/eventstore"
import { Contract, RelayConfig } from "@verity/integration"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"

const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"
const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
const category = `probe${id}`
const stream = `WIRING_${id}`

afterAll(async () => {
  const nc = await connect({ servers: NATS_URL, maxReconnectAttempts: 0 })
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false)
  await nc.close()
})

const Probed = Schema.TaggedStruct("Probed", { stream: Schema.String })
const probes = Contract.make({
  category,
  storedTypes: ["Probed"],
  schema: Schema.Union([Probed]),
  versions: { Probed: 1 },
  map: (event) => Effect.succeed([Probed.make({ stream: event.streamId })])
})

const runtime = (env: Record<string, string>) =>
  LedgerRuntime.layerWithoutDatabase({
    projections: [],
    contracts: [probes],
    projectionOptions: { pollInterval: "50 millis", discoveryInterval: "200 millis", owner: "wiring" }
  }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: MasterKeys.generate("k1"), ...env }))))

forEachDatabase((target) => {
  describe("ledger runtime relay wiring", () => {
    it.live("NATS_URL set: the relay publishes, and its checkpoint follows the broker's acks", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const store = yield* EventStore
        assert.deepStrictEqual(projections.definitions.map((p) => p.name), [RelayConfig.NAME])
        const last = yield* store.append(`${category}-1`, "any", [{ eventId: crypto.randomUUID(), type: "Probed", data: {} }])
        yield* projections.waitFor(RelayConfig.NAME, last.checkpoint, "30 seconds")
        const status = yield* projections.statusOf(RelayConfig.NAME)
        assert.strictEqual(status.parkedStreams, 0)
        assert.strictEqual(status.active?.eventsApplied, "1")
      }).pipe(
        Effect.provide(
          runtime({
            NATS_URL,
            VERITY_RELAY_STREAM: stream,
            VERITY_RELAY_PREFIX: `w${id}`
          }).pipe(Layer.provideMerge(TestDatabase.layer(target)))
        )
      ), 60_000)

    it.live("no NATS_URL: no relay", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        assert.deepStrictEqual(projections.definitions, [])
      }).pipe(Effect.provide(runtime({}).pipe(Layer.provideMerge(TestDatabase.layer(target))))), 60_000)
  })
})
