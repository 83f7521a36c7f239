/**
 * The subscriber example of the README (examples/subscribe.ts), as a child process on the machine's NATS
 * server: it prints the messages a sink published to the stream, one line each, in stream order.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { JetStreamSink, type Sink } from "../src/index.ts"
import { deleteStream, SHARED_NATS, unique } from "./Nats.ts"

const script = fileURLToPath(new URL("../examples/subscribe.ts", import.meta.url))

const message = (id: string, version: number, amount: number): Sink.OutboundMessage => ({
  subject: "account.MoneyDeposited",
  id,
  headers: { "verity-stream": "account-a1", "verity-stream-version": String(version) },
  payload: new TextEncoder().encode(JSON.stringify({ type: "MoneyDeposited", version: 1, data: { accountId: "a1", amount } }))
})

describe("examples/subscribe.ts", () => {
  it.live("prints each published message: subject, source stream and version, contract type and data", () =>
    Effect.gen(function*() {
      const id = unique()
      const stream = `EXAMPLE_${id}`
      const prefix = `ex${id}`
      yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
      const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream, prefix })
      yield* sink.publish([message(`${id}-1`, 1, 10), message(`${id}-2`, 2, 20)])
      const run = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [script, "--limit", "2"], {
            env: { ...process.env, NATS_URL: SHARED_NATS, VERITY_RELAY_STREAM: stream, VERITY_RELAY_PREFIX: prefix },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let stdout = ""
          let stderr = ""
          child.stdout.on("data", (chunk) => (stdout += chunk))
          child.stderr.on("data", (chunk) => (stderr += chunk))
          const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
          child.on("exit", (code) => {
            clearTimeout(timer)
            resolve({ code, stdout, stderr })
          })
        })
      )
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual(run.stdout.trim().split("\n"), [
        `1 ${prefix}.account.MoneyDeposited account-a1@1 MoneyDeposited v1 {"accountId":"a1","amount":10}`,
        `2 ${prefix}.account.MoneyDeposited account-a1@2 MoneyDeposited v1 {"accountId":"a1","amount":20}`
      ])
    }).pipe(Effect.scoped), 60_000)
})
