/**
 * Test helpers around the machine's RabbitMQ: a queue bound to a test's exchange to read what the relay
 * published, and (through `rabbitmqctl`) a virtual host of the test's own whose connections a fault test
 * closes on the broker's side while refusing new ones, then lets them back in.
 */
import { eventually } from "@verity/postgres/testing"
import * as Amqp from "amqplib"
import { type Duration, Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import { promisify } from "node:util"

/** The machine's RabbitMQ. */
export const SHARED_AMQP = process.env["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672"

export interface ReceivedMessage {
  readonly routingKey: string
  readonly messageId: string
  readonly contentType: string | undefined
  readonly deliveryMode: number | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
}

const withChannel = <A>(url: string, f: (channel: Amqp.Channel) => Promise<A>) =>
  Effect.promise(async () => {
    const connection = await Amqp.connect(url)
    try {
      return await f(await connection.createChannel())
    } finally {
      await connection.close()
    }
  })

/** Declares `exchange` (as the sink does) and a queue bound to everything under `prefix`; deleted with the scope. */
export const bindQueue = (url: string, exchange: string, queue: string, prefix: string) =>
  Effect.acquireRelease(
    withChannel(url, async (channel) => {
      await channel.assertExchange(exchange, "topic", { durable: true })
      await channel.assertQueue(queue, { durable: true })
      await channel.bindQueue(queue, exchange, `${prefix}.#`)
    }),
    () =>
      withChannel(url, async (channel) => {
        await channel.deleteQueue(queue)
        await channel.deleteExchange(exchange)
      }).pipe(Effect.ignore)
  )

export const countMessages = (url: string, queue: string) => withChannel(url, async (channel) => (await channel.checkQueue(queue)).messageCount)

export const waitForCount = (url: string, queue: string, n: number, timeout: Duration.Input = "60 seconds") =>
  eventually(`${n} messages in ${queue}`, countMessages(url, queue), (count) => count >= n, { timeout, interval: "50 millis" })

/** Takes every message in `queue`, in queue order. */
export const drain = (url: string, queue: string) =>
  withChannel(url, async (channel) => {
    const out: Array<ReceivedMessage> = []
    for (;;) {
      const message = await channel.get(queue, { noAck: true })
      if (message === false) return out
      const headers: Record<string, string> = {}
      for (const [key, value] of Object.entries(message.properties.headers ?? {})) headers[key] = String(value)
      out.push({
        routingKey: message.fields.routingKey,
        messageId: String(message.properties.messageId),
        contentType: message.properties.contentType,
        deliveryMode: message.properties.deliveryMode,
        headers,
        payload: JSON.parse(message.content.toString("utf8"))
      })
    }
  })

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
