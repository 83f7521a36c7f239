/**
 * Entry point: `node apps/api/src/main.ts` (or `scripts/start`). Serves the API on HOST:PORT over the
 * ledger runtime (DATABASE_URL, or an embedded PostgreSQL in VERITY_DATA_DIR), runs the projections and the
 * transfer process manager in this process, serves the ledger's commands over NATS when `NATS_URL` is set
 * (NatsCommands.ts), and stops cleanly on SIGINT/SIGTERM (exit code 0). A process
 * whose database cannot be recovered (see `DatabaseHealth`) stops with exit code 1, for a supervisor to
 * start it again.
 */
import { NodeRuntime } from "@effect/platform-node"
import { DatabaseHealth } from "@verity/postgres"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import { Tokens } from "./Auth.ts"
import * as Logging from "./Logging.ts"
import * as NatsCommands from "./NatsCommands.ts"
import * as NodeServer from "./NodeServer.ts"
import * as AppRuntime from "./Runtime.ts"
import * as Server from "./Server.ts"
import * as Tracing from "./Tracing.ts"

// Serves until interrupted by a signal, or until the database is lost for good.
Effect.gen(function*() {
  const health = yield* DatabaseHealth
  return yield* health.unrecoverable
}).pipe(
  Effect.provide(Server.layer.pipe(
    Layer.merge(Server.banner),
    Layer.merge(NatsCommands.layer),
    // Built side by side: the port opens (answering 503 while starting) as the runtime starts.
    Layer.provideMerge([AppRuntime.layer, Tokens.layer, NodeServer.layer]),
    Layer.provide(ApiConfig.layer),
    Layer.provide(Tracing.layer),
    Layer.provide(Logging.layer)
  )),
  NodeRuntime.runMain({
    // A shutdown asked for by a signal that completed every finalizer is a clean exit, not a failure.
    teardown: (exit, onExit) => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)
  })
)
