/**
 * Black-box helpers for several real processes on one embedded data folder: a private folder, the
 * postmaster's pid and port from its `postmaster.pid`, the replayer as a child process, a bounded load of
 * deposits against an API that records every answer, and waiting on conditions (never on time).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { cleanEnv, type RunningServer } from "./ServerProcess.ts"
import { send } from "./TestApi.ts"

const REPLAYER = fileURLToPath(new URL("../../../replayer/src/main.ts", import.meta.url))

/** A fresh folder the `postgres` user can reach (the server refuses to run as root); its data folder inside. */
export const folder = async () => {
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "verity-shared-"))
  await Fs.chmod(dir, 0o755)
  return { dir, dataDir: Path.join(dir, "postgres"), remove: () => Fs.rm(dir, { recursive: true, force: true }) }
}

export const postmaster = async (dataDir: string) => {
  const lines = (await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")
  return { pid: Number(lines[0]), port: Number(lines[3]) }
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface ReplayerRun {
  readonly code: number | string
  readonly output: string
}

export const replayer = (args: ReadonlyArray<string>, dataDir: string) => {
  const child = spawn(process.execPath, [REPLAYER, ...args], {
    env: { ...cleanEnv(), VERITY_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<ReplayerRun>((resolve) => child.once("exit", (code, signal) => resolve({ code: code ?? signal ?? "unknown", output })))
  return { child, exited, output: () => output }
}

/** Calls on one API process with its own development token. */
export const client = (server: RunningServer) => (method: string, path: string, json?: unknown) =>
  send(server.url + path, method, { token: server.devToken!, ...(json === undefined ? {} : { json }) })

export const openAccount = async (server: RunningServer) => {
  const reply = await client(server)("POST", "/accounts", { holderName: "Shared Folder", holderEmail: "sf@example.com", currency: "EUR" })
  if (reply.status !== 201) throw new Error(`open failed: ${reply.status} ${reply.text}`)
  return reply.body.accountId as string
}

/**
 * Deposits of 1 into `account` from `workers` concurrent loops until `stop()` (at most `max` requests and
 * two minutes), recording every status; network failures count as status 0.
 */
export const load = (server: RunningServer, account: string, options: { readonly workers?: number; readonly max?: number } = {}) => {
  const statuses: Array<number> = []
  let lastPosition = "0"
  let stopped = false
  const deadline = Date.now() + 120_000
  const call = client(server)
  const worker = async () => {
    while (!stopped && statuses.length < (options.max ?? 20_000) && Date.now() < deadline) {
      const reply = await call("POST", `/accounts/${account}/deposits`, { amount: 1 }).catch(() => ({ status: 0, body: undefined }))
      statuses.push(reply.status)
      if (reply.status === 200) {
        const position = (reply.body as { readonly position?: string }).position
        if (position !== undefined && BigInt(position) > BigInt(lastPosition)) lastPosition = position
      }
    }
  }
  const done = Promise.all(Array.from({ length: options.workers ?? 4 }, worker))
  return {
    statuses,
    lastPosition: () => lastPosition,
    successes: () => statuses.filter((s) => s === 200).length,
    stop: async () => {
      stopped = true
      await done
      return statuses
    }
  }
}

/** Runs `query` on the embedded server of `dataDir` as the superuser. */
export const onServer = async <A>(dataDir: string, query: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) => {
  const { port } = await postmaster(dataDir)
  return Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      return yield* query(sql)
    }).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`), maxConnections: 1 })),
      Effect.scoped
    )
  )
}
