/**
 * The Node HTTP server on HOST:PORT (default 127.0.0.1:3000). Keep-alive is left on with Node's defaults;
 * on shutdown the server stops accepting, lets requests in flight finish (bounded), then closes.
 *
 * The port opens while the rest of the process is still starting (database, migrations, keys): until the
 * application's handler is attached, every request is answered at once with 503 + Retry-After instead of
 * being left without an answer, so a client (or a load balancer) always knows to come back.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { ApiConfig } from "./ApiConfig.ts"

const STARTING = JSON.stringify({
  type: "urn:verity:problem:ServiceUnavailable",
  title: "ServiceUnavailable",
  status: 503,
  detail: "the API is starting; retry shortly"
})

/** Answers requests only while no other `request` listener (the application's) is attached. */
const answerWhileStarting = (server: Server) => (request: IncomingMessage, response: ServerResponse) => {
  if (server.listenerCount("request") > 1) return
  // The body is not needed: drain it so the connection stays usable for the retry.
  request.resume()
  response.writeHead(503, {
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(STARTING),
    "retry-after": "1"
  })
  response.end(STARTING)
}

export const layer = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ApiConfig
  return NodeHttpServer.layer(() => {
    const server = createServer({ keepAliveTimeout: 65_000 })
    server.on("request", answerWhileStarting(server))
    return server
  }, {
    port: config.port,
    host: config.host,
    gracefulShutdownTimeout: "10 seconds"
  })
}))
