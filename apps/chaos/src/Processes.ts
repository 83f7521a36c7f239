/**
 * The Verity processes of a chaos run, supervised: N API processes (`apps/api`, `VERITY_PROJECTIONS=off`, one
 * fixed port each) and M projection workers (`replayer follow`, which runs the read models AND the transfer
 * process manager), all on one `DATABASE_URL`. Like a real supervisor it starts any process that exits again
 * (after a short pause), on the same port. `kill` waits until its target is up, then sends SIGKILL, so every
 * kill counted hit a live process. Output goes to one log file per process in the run's folder. When the
 * scope closes every process gets SIGTERM (SIGKILL after 15 s).
 */
import { Effect, Schema, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, type WriteStream } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export type Kind = "api" | "worker"

export class ProcessNotReady extends Schema.TaggedError<ProcessNotReady>()("ProcessNotReady", { message: Schema.String }) {}

const REPO = fileURLToPath(new URL("../../..", import.meta.url))
const ENTRY: Record<Kind, ReadonlyArray<string>> = {
  api: [Path.join(REPO, "apps/api/src/main.ts")],
  worker: [Path.join(REPO, "apps/replayer/src/main.ts"), "follow", "--status-every", "0"]
}
/** `replayer follow` prints this once its runtime (and so the projections) started. */
const WORKER_STARTED = "following: projections run until interrupted"
const RESTART_PAUSE_MS = 300

export interface Exited {
  readonly kind: Kind
  readonly index: number
  readonly code: number | null
  readonly signal: string | null
}

interface Slot {
  readonly kind: Kind
  readonly index: number
  readonly name: string
  readonly port: number | undefined
  readonly log: WriteStream
  child: ChildProcess | undefined
  started: boolean
  killedByUs: boolean
}

export interface ProcessesOptions {
  readonly root: string
  readonly databaseUrl: string
  readonly masterKeys: string
  readonly apiTokens: string
  readonly apiPorts: ReadonlyArray<number>
  readonly workers: number
}

export interface Processes {
  readonly apiUrls: ReadonlyArray<string>
  readonly count: (kind: Kind) => number
  /** SIGKILL of process `index` of `kind` once it is up; the supervisor starts it again. */
  readonly kill: (kind: Kind, index: number) => Effect.Effect<number, ProcessNotReady>
  /** Waits until every API answers `/ready` 200 and every worker started. */
  readonly waitAllReady: (timeoutMs: number) => Effect.Effect<void, ProcessNotReady>
  /** Exits nobody asked for (a process that gave up by itself), in order. */
  readonly exits: () => ReadonlyArray<Exited>
  readonly logFile: (kind: Kind, index: number) => string
}

/** The environment without anything that would point a child at another database or port. */
const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue
    if (key === "DATABASE_URL" || key.startsWith("VERITY_") || key === "PORT" || key === "HOST" || key === "NODE_OPTIONS") continue
    if (key.startsWith("VITEST") || key === "TEST") continue
    env[key] = value
  }
  return env
}

const apiReady = async (port: number) => {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2_000) })
    await response.text()
    return response.status === 200
  } catch {
    return false
  }
}

export const make = (options: ProcessesOptions): Effect.Effect<Processes, never, Scope.Scope> =>
  Effect.gen(function*() {
    const logs = Path.join(options.root, "logs")
    yield* Effect.promise(() => Fs.mkdir(logs, { recursive: true }))
    let stopping = false
    const exited: Array<Exited> = []
    const env = {
      ...baseEnv(),
      DATABASE_URL: options.databaseUrl,
      VERITY_MASTER_KEYS: options.masterKeys,
      VERITY_API_TOKENS: options.apiTokens,
      VERITY_PROJECTIONS: "off",
      LOG_FORMAT: "json"
    }
    const slot = (kind: Kind, index: number, port: number | undefined): Slot => ({
      kind,
      index,
      name: `${kind}-${index}`,
      port,
      log: createWriteStream(Path.join(logs, `${kind}-${index}.log`), { flags: "a" }),
      child: undefined,
      started: false,
      killedByUs: false
    })
    const slots: ReadonlyArray<Slot> = [
      ...options.apiPorts.map((port, i) => slot("api", i, port)),
      ...Array.from({ length: options.workers }, (_, i) => slot("worker", i, undefined))
    ]

    const launch = (s: Slot) => {
      if (stopping) return
      s.killedByUs = false
      s.started = false
      s.log.write(`--- ${new Date().toISOString()} start ${s.name}\n`)
      const child = spawn(process.execPath, [...ENTRY[s.kind]], {
        cwd: REPO,
        env: s.port === undefined ? env : { ...env, PORT: String(s.port), HOST: "127.0.0.1" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      s.child = child
      const onOutput = (chunk: Buffer) => {
        s.log.write(chunk)
        if (s.kind === "worker" && !s.started && chunk.toString("utf8").includes(WORKER_STARTED)) s.started = true
      }
      child.stdout?.on("data", onOutput)
      child.stderr?.on("data", onOutput)
      child.once("exit", (code, signal) => {
        s.log.write(`--- ${new Date().toISOString()} ${s.name} exited (${code ?? signal})\n`)
        s.child = undefined
        s.started = false
        if (stopping) return
        if (!s.killedByUs) exited.push({ kind: s.kind, index: s.index, code, signal })
        setTimeout(() => launch(s), RESTART_PAUSE_MS)
      })
    }
    slots.forEach(launch)

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        stopping = true
        await Promise.all(slots.map((s) =>
          new Promise<void>((resolve) => {
            const child = s.child
            if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
            const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
            child.once("exit", () => {
              clearTimeout(timer)
              resolve()
            })
            child.kill("SIGTERM")
          })
        ))
        await Promise.all(slots.map((s) => new Promise<void>((resolve) => s.log.end(() => resolve()))))
      })
    )

    const find = (kind: Kind, index: number) => slots.find((s) => s.kind === kind && s.index === index)

    const isUp = (s: Slot) =>
      Effect.promise(async () => {
        if (s.child === undefined) return false
        if (s.kind === "worker") return s.started
        if (!s.started && s.port !== undefined) s.started = await apiReady(s.port)
        return s.started
      })

    const waitUntil = (check: Effect.Effect<boolean>, timeoutMs: number, message: string) =>
      check.pipe(
        Effect.flatMap((ok) => (ok ? Effect.succeed(true) : Effect.as(Effect.sleep("100 millis"), false))),
        Effect.repeat({ until: (ok) => ok }),
        Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.fail(new ProcessNotReady({ message })) }),
        Effect.asVoid
      )

    const kill = (kind: Kind, index: number) =>
      Effect.gen(function*() {
        const s = find(kind, index)
        if (s === undefined) return yield* new ProcessNotReady({ message: `no ${kind} ${index}` })
        yield* waitUntil(isUp(s), 120_000, `${s.name} did not come up to be killed`)
        const child = s.child
        if (child === undefined || child.pid === undefined) return yield* new ProcessNotReady({ message: `${s.name} vanished` })
        s.killedByUs = true
        child.kill("SIGKILL")
        return child.pid
      })

    const waitAllReady = (timeoutMs: number) =>
      waitUntil(
        Effect.map(
          Effect.forEach(slots, (s) => (s.kind === "api" && s.child !== undefined ? Effect.promise(() => apiReady(s.port ?? 0)) : isUp(s))),
          (up) => up.every(Boolean)
        ),
        timeoutMs,
        `not every process was ready within ${timeoutMs} ms`
      )

    return {
      apiUrls: options.apiPorts.map((port) => `http://127.0.0.1:${port}`),
      count: (kind) => slots.filter((s) => s.kind === kind).length,
      kill,
      waitAllReady,
      exits: () => exited,
      logFile: (kind, index) => Path.join(logs, `${kind}-${index}.log`)
    }
  })
