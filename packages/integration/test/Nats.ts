/**
 * Test helpers around a real NATS server: read a JetStream stream back, and run a NATS server of the
 * test's own (its own port and store folder) that a fault test may kill and start again.
 */
import { connect } from "@nats-io/transport-node"
import { eventually } from "@verity/postgres/testing"
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export { countMessages, deleteStream, readStream, SHARED_NATS, type StoredMessage, unique } from "../src/testing.ts"

const freePort = () =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
  )

const reachable = (url: string) =>
  Effect.promise(() =>
    connect({ servers: url, maxReconnectAttempts: 0 }).then(
      (nc) => nc.close().then(() => true),
      () => false
    )
  )

export interface OwnServer {
  readonly url: string
  /** SIGKILL: no clean shutdown. Resolves once the process has exited. */
  readonly kill: Effect.Effect<void>
  /** Starts it again on the same port and store folder, and waits until it accepts connections. */
  readonly start: Effect.Effect<void>
}

/** A `nats-server -js` of the test's own, killed when the scope closes. */
export const ownServer: Effect.Effect<OwnServer, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* freePort()
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "verity-nats-"))),
    (d) => Effect.promise(() => Fs.rm(d, { recursive: true, force: true }))
  )
  const url = `nats://127.0.0.1:${port}`
  let child: ChildProcess.ChildProcess | undefined
  const kill = Effect.promise(() =>
    new Promise<void>((resolve) => {
      const c = child
      child = undefined
      if (c === undefined || c.exitCode !== null) return resolve()
      c.once("exit", () => resolve())
      c.kill("SIGKILL")
    })
  )
  const start = Effect.gen(function*() {
    child = ChildProcess.spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], { stdio: "ignore" })
    yield* eventually(`nats-server on ${url}`, reachable(url), { timeout: "20 seconds", interval: "50 millis" })
  })
  yield* Effect.addFinalizer(() => kill)
  yield* start
  return { url, kill, start }
})
