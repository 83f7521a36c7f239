/**
 * One postmaster process on a data folder: what its `postmaster.pid` says, whether it is provably alive,
 * whether it answers, launching it (resolving only once it is ready) and stopping it (fast shutdown, then
 * immediate). Nothing here takes the start lock: callers serialise starts and stops (see FolderLock.ts).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { type Identity, PASSWORD, spawnOptions, USER } from "./Binaries.ts"

/** What `postmaster.pid` says: the postmaster's pid, its port, and its state (`starting`, `ready`, `stopping`). */
export interface PidFile {
  readonly pid: number
  readonly port: number
  readonly status: string
}

export const readPidFile = async (dataDir: string): Promise<PidFile | undefined> => {
  const text = await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined)
  if (text === undefined) return undefined
  const lines = text.split("\n")
  const pid = Number.parseInt(lines[0] ?? "", 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  return { pid, port: Number.parseInt(lines[3] ?? "", 10), status: (lines[7] ?? "").trim() }
}

/** False only when `pid` is provably gone: no such process, a zombie, or (Linux) a process that is not postgres. */
export const isPostgres = async (pid: number) => {
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
export const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH")
  }
}

/** The server on `port` answers a query. */
export const answers = (port: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql`SELECT 1`
    return true
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(urlOf(port)), maxConnections: 1, connectTimeout: "3 seconds" })),
    Effect.timeout("5 seconds"),
    Effect.catchCause(() => Effect.succeed(false))
  )

export const urlOf = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Starts the postmaster, its log appended to `<dataDir>.log`. A shared server runs in its own session (a
 * Ctrl-C meant for the process that started it must not reach a server others use); an ephemeral one stays
 * in its starter's process group, so a Ctrl-C of a test run takes it down too. Resolves
 * with its pid once `postmaster.pid` says it is ready; rejects with the log's tail if it exits first.
 */
export const launch = async (
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
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      // TCP only: no socket files to collide with other servers in /tmp.
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=300",
      ...flags
    ], { ...spawnOptions(identity), detached: shared, stdio: ["ignore", "ignore", log.fd] })
  } finally {
    await log.close() // the child has its own copy of the descriptor
  }
  child.unref()
  let exit: string | undefined
  let spawnError: Error | undefined
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
export const stopServer = async (pid: number) => {
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
