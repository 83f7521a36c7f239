/**
 * A relay in its own process, for the SIGKILL test: `node relayProcess.ts` (Node 22 strips the types).
 * It runs the test contract's relay to JetStream over its own pool and prints "ready" once up, then runs
 * until it is killed.
 *
 * Environment: RELAY_DATABASE_URL, RELAY_NATS_URL, RELAY_STREAM, RELAY_PREFIX, RELAY_CATEGORY, RELAY_NAME,
 * RELAY_OWNER, RELAY_BATCH_SIZE.
 */
import { PgClient } from "@effect/sql-pg"
import { PgEventStore } from "@verity/eventstore"
import { Effect, Layer, Redacted } from "effect"
import { JetStreamSink, Relay } from "../../src/index.ts"
import { contractFor } from "./Parcels.ts"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") {
    process.stderr.write(`${name} is required\n`)
    process.exit(2)
  }
  return value
}

const batchSize = Number(process.env["RELAY_BATCH_SIZE"] ?? "100")
const runtime = Layer.unwrap(Effect.gen(function*() {
  const sink = yield* JetStreamSink.make({ servers: env("RELAY_NATS_URL"), stream: env("RELAY_STREAM"), prefix: env("RELAY_PREFIX") })
  return Relay.layer({
    name: env("RELAY_NAME"),
    contracts: [contractFor(env("RELAY_CATEGORY"))],
    sink,
    runtime: { owner: env("RELAY_OWNER"), batchSize, rebuildBatchSize: batchSize, pollInterval: "50 millis", discoveryInterval: "200 millis" }
  })
})).pipe(
  Layer.provide(PgEventStore.layer()),
  Layer.provide(PgClient.layer({ url: Redacted.make(env("RELAY_DATABASE_URL")), maxConnections: 6 }))
)

Effect.runFork(
  Effect.gen(function*() {
    yield* Layer.build(runtime)
    process.stdout.write("ready\n")
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.tapCause((cause) => Effect.sync(() => process.stderr.write(`relay failed: ${String(cause)}\n`))),
    Effect.ensuring(Effect.sync(() => process.exit(1)))
  )
)
