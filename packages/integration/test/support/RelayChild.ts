/**
 * Starting the relay child process (relayProcess.ts) from a test: spawned with the given environment, ready
 * once it printed "ready", SIGKILLed by `kill9` (no clean shutdown: its lock and connections die with it)
 * or when the test's scope closes. Shared by the fault tests that kill a relay mid-way.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./relayProcess.ts", import.meta.url))

const waitExit = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

export interface RelayChild {
  /** SIGKILL; resolves once the process has exited. */
  readonly kill9: Effect.Effect<void>
  /** What it printed so far (stdout and stderr), for a failing test's message. */
  readonly output: () => string
}

/** Starts a relay process and waits for its "ready" line (60 s at most); SIGKILLs it when the scope closes. */
export const startRelayProcess = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })),
      (child) =>
        Effect.suspend(() => {
          if (child.exitCode !== null || child.signalCode !== null) return Effect.void
          child.kill("SIGKILL")
          return waitExit(child)
        })
    )
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    yield* Effect.callback<void, Error>((resume) => {
      const timer = setInterval(() => {
        if (/^ready$/m.test(output)) {
          clearInterval(timer)
          resume(Effect.void)
        } else if (child.exitCode !== null) {
          clearInterval(timer)
          resume(Effect.fail(new Error(`relay process exited before ready:\n${output}`)))
        }
      }, 20)
      return Effect.sync(() => clearInterval(timer))
    }).pipe(
      Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new Error(`relay process not ready after 60 s:\n${output}`)) }),
      Effect.orDie
    )
    const relay: RelayChild = {
      kill9: Effect.suspend(() => {
        child.kill("SIGKILL")
        return waitExit(child)
      }),
      output: () => output
    }
    return relay
  })
