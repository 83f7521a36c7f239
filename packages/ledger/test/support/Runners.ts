/**
 * Child-process runners (see runnerProcess.ts) for the crash and fail-over tests, and the parent side's
 * ledger runtime on the same database (with no runners of its own: status, waitFor and verify only).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import * as ReadModels from "../../src/ReadModels.ts"
import { fast, masterKeyConfig } from "./Ledger.ts"

const script = fileURLToPath(new URL("./runnerProcess.ts", import.meta.url))

export interface Runner {
  readonly owner: string
  readonly pid: number
  /** SIGKILL, then waits until the process is gone. */
  readonly kill9: Effect.Effect<void>
  readonly alive: () => boolean
  /** What it printed (stdout and stderr), for failure messages. */
  readonly output: () => string
}

export interface RunnerOptions {
  readonly url: string
  readonly masterKeys: string
  readonly owner: string
  readonly batchSize?: number
}

const waitExit = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/**
 * Starts a runner process and waits for its "ready" line (60 s at most). It is killed when the scope closes
 * if it still runs.
 */
export const startRunner = (options: RunnerOptions) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [script], {
          env: {
            ...process.env,
            RUNNER_DATABASE_URL: options.url,
            VERITY_MASTER_KEYS: options.masterKeys,
            RUNNER_OWNER: options.owner,
            RUNNER_BATCH_SIZE: String(options.batchSize ?? 500),
            DATABASE_URL: ""
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.gen(function*() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL")
            yield* waitExit(child)
          }
        })
    )
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    yield* Effect.callback<void, Error>((resume) => {
      const onData = () => {
        if (/^ready$/m.test(output)) {
          cleanup()
          resume(Effect.void)
        }
      }
      const onExit = (code: number | null, signal: string | null) => {
        cleanup()
        resume(Effect.fail(new Error(`runner ${options.owner} exited (${code ?? signal}) before ready:\n${output}`)))
      }
      const cleanup = () => {
        child.stdout.off("data", onData)
        child.off("exit", onExit)
      }
      child.stdout.on("data", onData)
      child.once("exit", onExit)
      onData()
      return Effect.sync(cleanup)
    }).pipe(
      Effect.timeoutOrElse({
        duration: "60 seconds",
        orElse: () => Effect.fail(new Error(`runner ${options.owner} not ready after 60 s:\n${output}`))
      }),
      Effect.orDie
    )
    return {
      owner: options.owner,
      pid: child.pid!,
      kill9: Effect.gen(function*() {
        child.kill("SIGKILL")
        yield* waitExit(child)
      }),
      alive: () => child.exitCode === null && child.signalCode === null,
      output: () => output
    } satisfies Runner
  })

/** The ledger runtime of the test process itself on `url`: same store and read models, no runners. */
export const observerLayer = (url: string, masterKeys: string) =>
  LedgerRuntime.layerWithoutDatabase({
    projections: ReadModels.all,
    runProjections: false,
    projectionOptions: { ...fast, owner: "observer" }
  }).pipe(
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 8 })),
    Layer.provide(masterKeyConfig(masterKeys))
  )
