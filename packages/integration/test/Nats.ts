/**
 * Test helpers around a real NATS server: read a JetStream stream back, and run a NATS server of the
 * test's own (its own port and store folder) that a fault test may kill and start again.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { eventually } from "@verity/postgres/testing"
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/** The machine's NATS server with JetStream. */
export const SHARED_NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"

export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
}

/** A unique, valid name part per test (streams, prefixes, categories, relay names). */
export const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

const withManager = <A>(servers: string, f: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<A>) =>
  Effect.promise(async () => {
    const nc = await connect({ servers, maxReconnectAttempts: 0 })
    try {
      return await f(await jetstreamManager(nc))
    } finally {
      await nc.close()
    }
  })

/** Messages stored in `stream` (0 when it does not exist yet). */
export const countMessages = (servers: string, stream: string) =>
  withManager(servers, async (jsm) => {
    try {
      return (await jsm.streams.info(stream)).state.messages
    } catch {
      return 0
    }
  })

/** Every message of `stream`, in stream order. */
export const readStream = (servers: string, stream: string) =>
  withManager(servers, async (jsm) => {
    const info = await jsm.streams.info(stream)
    const out: Array<StoredMessage> = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq })
      if (m === null) continue
      const headers: Record<string, string> = {}
      for (const key of m.header.keys()) headers[key] = m.header.get(key)
      out.push({ seq: m.seq, subject: m.subject, headers, payload: m.json<unknown>() })
    }
    return out
  })

export const deleteStream = (servers: string, stream: string) =>
  withManager(servers, (jsm) => jsm.streams.delete(stream).catch(() => false)).pipe(Effect.ignore)

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
