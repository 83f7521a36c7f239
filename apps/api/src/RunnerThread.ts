/**
 * Runs the projection runners (read models and the transfer process manager) in a worker thread with its
 * own event loop and connection pool, so catching up never delays a request and both CPU cores get work.
 * The thread runs RunnerThreadMain.ts on the same database; a thread that dies is restarted with
 * backoff; on shutdown it is asked to stop (releasing its leases) and given time to finish.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { Worker } from "node:worker_threads"

export interface RunnerThreadOptions {
  readonly databaseUrl: string
}

const ENTRY = new URL("./RunnerThreadMain.ts", import.meta.url)
const STOP_TIMEOUT = Duration.seconds(15)

/** One thread's life: resolves when it exits (with its exit code). */
const run = (options: RunnerThreadOptions) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Worker(ENTRY, { workerData: { databaseUrl: options.databaseUrl } })),
    (worker) =>
      Effect.callback<number>((resume) => {
        // A node event outside any fiber, and the "exit" that follows resumes: print the reason here.
        // oxlint-disable-next-line no-console
        worker.once("error", (error) => console.error("projection runner thread failed", error))
        worker.once("exit", (code) => resume(Effect.succeed(code)))
      }),
    (worker) =>
      Effect.callback<void>((resume) => {
        if (worker.threadId === -1) return resume(Effect.void)
        const timer = setTimeout(() => void worker.terminate(), Duration.toMillis(STOP_TIMEOUT))
        worker.once("exit", () => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        worker.postMessage("stop")
      })
  )

export const layer = (options: RunnerThreadOptions) =>
  Layer.effectDiscard(
    run(options).pipe(
      Effect.flatMap((code) => Effect.logError(`projection runner thread exited (code ${code}); restarting`)),
      Effect.repeat(Schedule.spaced("2 seconds")),
      Effect.forkScoped
    )
  )
