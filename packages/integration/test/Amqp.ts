/**
 * Test helpers around the machine's RabbitMQ: a queue bound to a test's exchange to read what the relay
 * published, and (through `rabbitmqctl`) a virtual host of the test's own whose connections a fault test
 * closes on the broker's side while refusing new ones, then lets them back in.
 */
import { eventually } from "@verity/postgres/testing"
import { type Duration, Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import { promisify } from "node:util"
import { type AmqpMessage, bindAmqpQueue, countAmqpMessages, drainAmqpQueue, SHARED_AMQP } from "../src/testing.ts"

export { SHARED_AMQP }
export type ReceivedMessage = AmqpMessage

/** Declares `exchange` (as the sink does) and a queue bound to everything under `prefix`; deleted with the scope. */
export const bindQueue = bindAmqpQueue
export const countMessages = countAmqpMessages

export const waitForCount = (url: string, queue: string, n: number, timeout: Duration.Input = "60 seconds") =>
  eventually(`${n} messages in ${queue}`, countMessages(url, queue), (count) => count >= n, { timeout, interval: "50 millis" })

/** Takes every message in `queue`, in queue order. */
export const drain = drainAmqpQueue

/** The first delivery of each message id, in order: what a de-duplicating consumer sees. */
export const deduplicated = (messages: ReadonlyArray<ReceivedMessage>) => {
  const seen = new Set<string>()
  return messages.filter((m) => seen.has(m.messageId) ? false : (seen.add(m.messageId), true))
}

const run = promisify(ChildProcess.execFile)
const ctl = (...args: ReadonlyArray<string>) => Effect.promise(() => run("rabbitmqctl", ["-q", ...args]))

/** A virtual host of the test's own (guest may use it), deleted with the scope; `url` connects to it. */
export const ownVhost = (name: string): Effect.Effect<
  {
    readonly url: string
    /** Refuses guest on the vhost and closes its connections on the broker's side; gives how many it closed. */
    readonly cut: Effect.Effect<number>
    /** Lets guest in again. */
    readonly restore: Effect.Effect<void>
  },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const allow = ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*").pipe(Effect.asVoid)
    yield* Effect.acquireRelease(ctl("add_vhost", name).pipe(Effect.andThen(allow)), () => ctl("delete_vhost", name))
    const closeAll = Effect.gen(function*() {
      const { stdout } = yield* ctl("list_connections", "vhost", "pid")
      const pids = stdout.split("\n").map((line) => line.split("\t")).filter(([vhost]) => vhost === name).map(([, pid]) => pid!)
      for (const pid of pids) yield* ctl("close_connection", pid, "test outage")
      return pids.length
    })
    return {
      url: `${SHARED_AMQP}/${encodeURIComponent(name)}`,
      cut: ctl("clear_permissions", "-p", name, "guest").pipe(Effect.andThen(closeAll)),
      restore: allow
    }
  })
