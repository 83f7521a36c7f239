/**
 * Entry point of the projection runner thread (started by RunnerThread.ts): the ledger runtime with its
 * projections running (and, when `NATS_URL` is set, the relay to NATS JetStream and the ledger's inboxes,
 * e.g. `fraud_watch`, consuming it), on the database the API thread resolved, until the API thread asks it
 * to stop. The inboxes' handlers and acks run here, never on the request thread.
 */
import { LedgerRuntime } from "@verity/ledger"
import { Effect, Layer } from "effect"
import * as Os from "node:os"
import { parentPort, threadId, workerData } from "node:worker_threads"
import * as Logging from "./Logging.ts"
import { contracts, pgClient, projections } from "./Runtime.ts"
import * as Tracing from "./Tracing.ts"

const { databaseUrl } = workerData as { readonly databaseUrl: string }

const fiber = LedgerRuntime.layerWithoutDatabase({
  projections: projections(),
  contracts,
  runInboxes: true,
  projectionOptions: { owner: `${Os.hostname()}:${process.pid}:runner-${threadId}` }
}).pipe(
  Layer.provide(pgClient(databaseUrl, 10, "verity-projections")),
  Layer.provide(Tracing.layer),
  Layer.provide(Logging.layer),
  Layer.launch,
  Effect.runFork
)

parentPort?.on("message", (message) => {
  if (message === "stop") fiber.interruptUnsafe()
})
fiber.addObserver(() => parentPort?.close())
