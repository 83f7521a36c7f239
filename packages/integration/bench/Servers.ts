/**
 * Where the relay benchmark runs: a fresh PostgreSQL database (on DATABASE_URL's server, else on an embedded
 * PostgreSQL started for the run) and a NATS server with JetStream of its own (a `nats-server -js` with an
 * empty store folder on a free port, or the one at NATS_URL), so numbers never depend on leftovers.
 */
import { PgClient } from "@effect/sql-pg"
import { connect } from "@nats-io/transport-node"
import { Effect, Redacted, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const admin = (url: string, statement: (sql: PgClient.PgClient) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    yield* statement(yield* PgClient.PgClient)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

/** A brand-new database, dropped when the scope closes; its URL. */
export const database = (databaseUrl: string | undefined): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    let server = databaseUrl
    if (server === undefined) {
      const dataDir = Path.join(Os.tmpdir(), `verity-relay-bench-${process.pid}`)
      const { EmbeddedPostgres } = yield* Effect.promise(() => import("@verity/postgres"))
      process.once("exit", () => Fs.rmSync(dataDir, { recursive: true, force: true }))
      server = (yield* EmbeddedPostgres.start({ dataDir, ephemeral: true }).pipe(Effect.orDie)).url
    }
    const name = `verity_relay_bench_${process.pid}`
    const url = new URL(server)
    url.pathname = `/${name}`
    const base = server
    yield* Effect.acquireRelease(
      admin(base, (sql) => sql`CREATE DATABASE ${sql(name)}`),
      () => admin(base, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(Effect.ignore)
    )
    return url.toString()
  })

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface Nats {
  readonly url: string
  /** CPU seconds the server used so far (0 for a server at NATS_URL, which cannot be seen). */
  readonly cpuSeconds: () => number
}

const cpuOf = (pid: number | undefined) => () => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** A NATS server with JetStream and an empty store (killed with the scope), or `natsUrl` when given. */
export const nats = (natsUrl: string | undefined): Effect.Effect<Nats, never, Scope.Scope> =>
  natsUrl !== undefined ? Effect.succeed({ url: natsUrl, cpuSeconds: () => 0 }) : Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "verity-relay-bench-nats-"))
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], { stdio: "ignore" })),
      (c) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve()
            c.once("exit", () => resolve())
            c.kill("SIGTERM")
          })
        ).pipe(Effect.andThen(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))))
    )
    const url = `nats://127.0.0.1:${port}`
    for (let attempt = 0;; attempt++) {
      const ok = yield* Effect.promise(() =>
        connect({ servers: url, maxReconnectAttempts: 0 }).then((nc) => nc.close().then(() => true), () => false)
      )
      if (ok) break
      if (attempt > 400 || child.exitCode !== null) return yield* Effect.die(new Error(`nats-server did not start on ${url}`))
      yield* Effect.sleep("50 millis")
    }
    return { url, cpuSeconds: cpuOf(child.pid) }
  })

/** `nats-server --version`, for the report. */
export const natsVersion = () => {
  try {
    return ChildProcess.execFileSync("nats-server", ["--version"], { encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}
