/**
 * Test helpers around a real NATS JetStream and RabbitMQ, for the tests of applications that run a relay:
 * unique stream and prefix names, a stream read back in order (subject, headers, JSON payload), and its
 * removal; a RabbitMQ queue bound to a relay's exchange, its message count, and its messages taken in order.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import * as Amqp from "amqplib"
import { Effect } from "effect"

/** The machine's NATS server with JetStream. */
export const SHARED_NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"

export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
  /** The payload as it was sent, for assertions on what it does not contain. */
  readonly text: string
}

/** A unique, valid name part per test (streams, prefixes, categories, relay names). */
export const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

const withManager = <A>(servers: string, f: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<A>) =>
  Effect.promise(async () => {
    const nc = await connect({ servers, maxReconnectAttempts: 0 })
    try {
      return await f(await jetstreamManager(nc))
    } finally {
      await nc.close()
    }
  })

/** Messages stored in `stream` (0 when it does not exist yet). */
export const countMessages = (servers: string, stream: string) =>
  withManager(servers, async (jsm) => {
    try {
      return (await jsm.streams.info(stream)).state.messages
    } catch {
      return 0
    }
  })

/** Every message of `stream`, in stream order. */
export const readStream = (servers: string, stream: string) =>
  withManager(servers, async (jsm) => {
    const info = await jsm.streams.info(stream)
    const out: Array<StoredMessage> = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq })
      if (m === null) continue
      const headers: Record<string, string> = {}
      for (const key of m.header.keys()) headers[key] = m.header.get(key)
      out.push({ seq: m.seq, subject: m.subject, headers, payload: m.json<unknown>(), text: m.string() })
    }
    return out
  })

/** Removes `stream` (nothing when it does not exist). */
export const deleteStream = (servers: string, stream: string) =>
  withManager(servers, (jsm) => jsm.streams.delete(stream).catch(() => false)).pipe(Effect.ignore)

/** The machine's RabbitMQ. */
export const SHARED_AMQP = process.env["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672"

/** A message taken from a RabbitMQ queue, with the properties the relay sets. */
export interface AmqpMessage {
  readonly routingKey: string
  readonly messageId: string
  readonly contentType: string | undefined
  readonly deliveryMode: number | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
  readonly text: string
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

/**
 * Declares `exchange` (as the AMQP sink does: a durable topic exchange) and a durable queue bound to
 * everything under `prefix`; both are deleted when the scope closes.
 */
export const bindAmqpQueue = (url: string, exchange: string, queue: string, prefix: string) =>
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

/** Messages ready in `queue`. */
export const countAmqpMessages = (url: string, queue: string) => withChannel(url, async (channel) => (await channel.checkQueue(queue)).messageCount)

/** Takes every message in `queue`, in queue order. */
export const drainAmqpQueue = (url: string, queue: string) =>
  withChannel(url, async (channel) => {
    const out: Array<AmqpMessage> = []
    for (;;) {
      const message = await channel.get(queue, { noAck: true })
      if (message === false) return out
      const headers: Record<string, string> = {}
      for (const [key, value] of Object.entries(message.properties.headers ?? {})) headers[key] = String(value)
      const text = message.content.toString("utf8")
      out.push({
        routingKey: message.fields.routingKey,
        messageId: String(message.properties.messageId),
        contentType: message.properties.contentType,
        deliveryMode: message.properties.deliveryMode,
        headers,
        payload: JSON.parse(text),
        text
      })
    }
  })
