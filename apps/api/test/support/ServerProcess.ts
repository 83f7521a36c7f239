/**
 * The real server as a child process (`node src/main.ts`), for black-box tests: started with a given
 * environment on a free port, its banner read from stdout (URL and development token), and stopped with
 * SIGTERM, reporting how it exited. `launch` returns before the server is ready (to test start-up).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { connect, createServer } from "node:net"
import { fileURLToPath } from "node:url"

const API_ROOT = fileURLToPath(new URL("../..", import.meta.url))

/**
 * `count` distinct free ports: all are held open until every one is known, so the kernel cannot hand the
 * same one out twice (the API's and the embedded PostgreSQL's ports must differ).
 */
export const freePorts = async (count: number): Promise<ReadonlyArray<number>> => {
  const servers = await Promise.all(Array.from({ length: count }, () =>
    new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve(server))
    })))
  const ports = servers.map((server) => {
    const address = server.address()
    return typeof address === "object" && address !== null ? address.port : 0
  })
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

export interface RunningServer {
  readonly url: string
  readonly pid: number
  /** The development token from the banner, when the server generated one. */
  readonly devToken: string | undefined
  readonly output: () => string
  /** SIGTERM, then the exit code (or the signal's name) once the process is gone. */
  readonly stop: () => Promise<number | string>
  /** Sends `signal` (e.g. SIGKILL) without waiting. */
  readonly kill: (signal: NodeJS.Signals) => void
  /** The exit code (or the signal's name), once the process is gone. */
  readonly exited: Promise<number | string>
}

/** The environment without anything that would point the child at the test runner's databases. */
export const cleanEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue
    if (
      key === "DATABASE_URL" || key === "NATS_URL" || key === "AMQP_URL" || key.startsWith("VERITY_") || key === "PORT" || key === "HOST" ||
      key === "NODE_OPTIONS"
    ) {
      continue
    }
    if (key.startsWith("VITEST") || key === "TEST") continue
    env[key] = value
  }
  return env
}

export interface LaunchedServer {
  readonly url: string
  readonly pid: number
  readonly output: () => string
  /** Resolves once the port accepts connections (the process may still be starting). */
  readonly listening: (timeoutMs?: number) => Promise<void>
  /** Resolves once `probe` answers 200; kills the process and rejects if it never does. */
  readonly ready: (options?: { readonly timeoutMs?: number; readonly probe?: "/ready" | "/health" }) => Promise<RunningServer>
  readonly stop: () => Promise<number | string>
}

/** Spawns the server and returns at once, without waiting for it to listen or be ready. */
export const launch = async (env: Record<string, string>): Promise<LaunchedServer> => {
  const [port, pgPort] = await freePorts(2)
  if (port === undefined || pgPort === undefined) throw new Error("no free ports")
  const child: ChildProcess = spawn(process.execPath, ["src/main.ts"], {
    cwd: API_ROOT,
    env: { ...cleanEnv(), LOG_FORMAT: "json", PORT: String(port), VERITY_EMBEDDED_PG_PORT: String(pgPort), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  const listening = async (timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && child.exitCode === null) {
      const open = await new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1")
        socket.once("connect", () => {
          socket.destroy()
          resolve(true)
        })
        socket.once("error", () => resolve(false))
      })
      if (open) return
      await new Promise<void>((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`server did not listen:\n${output}`)
  }
  const ready = async (options: { readonly timeoutMs?: number; readonly probe?: "/ready" | "/health" } = {}) => {
    const deadline = Date.now() + (options.timeoutMs ?? 90_000)
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const response = await fetch(`${url}${options.probe ?? "/ready"}`, { signal: AbortSignal.timeout(2_000) })
        await response.text()
        if (response.status === 200) {
          return {
            url,
            pid: child.pid!,
            devToken: /Development token: (\S+)/.exec(output)?.[1],
            output: () => output,
            stop,
            kill: (signal: NodeJS.Signals) => void child.kill(signal),
            exited
          }
        }
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    child.kill("SIGKILL")
    await exited
    throw new Error(`server did not become ready:\n${output}`)
  }
  return { url, pid: child.pid!, output: () => output, listening, ready, stop }
}

export const start = async (
  env: Record<string, string>,
  options: { readonly timeoutMs?: number; readonly probe?: "/ready" | "/health" } = {}
): Promise<RunningServer> => (await launch(env)).ready(options)
