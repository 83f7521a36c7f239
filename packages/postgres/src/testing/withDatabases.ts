/**
 * `node withDatabases.ts <command...>`: starts the test databases once (see Targets.ts), runs the command
 * with `VERITY_TEST_DATABASES` describing them, stops them, and exits with the command's exit code. The
 * test command wraps turbo with it so every package's suites share one embedded server.
 */
import { spawn } from "node:child_process"
import { resolveTargets, TARGETS_ENV } from "./Targets.ts"

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error("usage: withDatabases.ts <command> [args...]")
  process.exit(2)
}

const { targets, close } = await resolveTargets()
console.error(`[verity] test databases: ${targets.map((t) => t.name).join(", ")}`)
const child = spawn(command, args, {
  stdio: "inherit",
  env: { ...process.env, [TARGETS_ENV]: JSON.stringify(targets) }
})
const forward = (signal: NodeJS.Signals) => () => child.kill(signal)
process.on("SIGINT", forward("SIGINT"))
process.on("SIGTERM", forward("SIGTERM"))
const code: number = await new Promise((resolve) => child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128 + 1))))
await close()
process.exit(code)
