/**
 * The Node HTTP server on HOST:PORT (default 127.0.0.1:3000). Keep-alive is left on with Node's defaults;
 * on shutdown the server stops accepting, lets requests in flight finish (bounded), then closes.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { ApiConfig } from "./ApiConfig.ts"

export const layer = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ApiConfig
  return NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), {
    port: config.port,
    host: config.host,
    gracefulShutdownTimeout: "10 seconds"
  })
}))
