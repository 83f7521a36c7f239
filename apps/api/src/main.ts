/**
 * Entry point: `node apps/api/src/main.ts` (or `scripts/start`). Serves the API on HOST:PORT over the
 * ledger runtime (DATABASE_URL, or an embedded PostgreSQL in VERITY_DATA_DIR), runs the projections and the
 * transfer process manager in this process, and stops cleanly on SIGINT/SIGTERM (exit code 0).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Exit, Layer, Runtime } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import { Tokens } from "./Auth.ts"
import * as Logging from "./Logging.ts"
import * as NodeServer from "./NodeServer.ts"
import * as AppRuntime from "./Runtime.ts"
import * as Server from "./Server.ts"
import * as Tracing from "./Tracing.ts"

Server.layer.pipe(
  Layer.merge(Server.banner),
  Layer.provide([AppRuntime.layer, Tokens.layer, NodeServer.layer]),
  Layer.provide(ApiConfig.layer),
  Layer.provide(Tracing.layer),
  Layer.provide(Logging.layer),
  Layer.launch,
  NodeRuntime.runMain({
    // A shutdown asked for by a signal that completed every finalizer is a clean exit, not a failure.
    teardown: (exit, onExit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)
  })
)
