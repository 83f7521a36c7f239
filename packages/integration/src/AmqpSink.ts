/**
 * The RabbitMQ sink (AMQP 0-9-1, `amqplib`). It connects lazily (the first publish, and again after the
 * connection or channel closed), so a relay starts while the broker is down and reports it as an outage;
 * on connecting it declares its durable topic exchange.
 *
 * A publish sends the whole batch on one confirm channel (publisher confirms), persistent, with
 * `messageId` = the message id and the relay's headers as AMQP headers, routed by
 * `<prefix>.<category>.<type>`, then waits for every confirm. One channel keeps the batch's order. A nack,
 * a closed channel or connection is a retryable `Unavailable`: the relay republishes the batch. AMQP has no
 * broker-side de-duplication, so a republished batch arrives twice: consumers de-duplicate by message id.
 *
 * Messages are published `mandatory`: one that no queue is bound for comes back as returned. That is not
 * an error (a topic exchange nobody listens to yet is a normal state, and the broker confirms it all the
 * same); the count is logged at debug level and set on the span.
 */
import * as Amqp from "amqplib"
import { Effect, type Scope, Semaphore } from "effect"
import { type OutboundMessage, type Sink, SinkError } from "./Sink.ts"

export interface AmqpSinkOptions {
  /** Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. */
  readonly url: string
  /** The durable topic exchange the sink declares and publishes to. */
  readonly exchange: string
  /** Routing-key prefix: messages go to `<prefix>.<category>.<type>`. */
  readonly prefix: string
  /** The connection's name as the broker shows it. */
  readonly name?: string
}

/** Reads a broker failure as a `SinkError`: every failure of AMQP here is an outage (nothing is refused per message). */
export const classify = (error: unknown, messageId?: string): SinkError =>
  new SinkError({
    reason: "Unavailable",
    detail: error instanceof Error ? error.message : String(error),
    cause: error,
    ...(messageId === undefined ? {} : { messageId })
  })

interface Connected {
  readonly connection: Amqp.ChannelModel
  readonly channel: Amqp.ConfirmChannel
  /** Ids of messages the broker returned as unroutable since the last publish began. */
  readonly returned: Set<string>
  closed: boolean
}

/** A RabbitMQ sink; its connection (once made) is closed with the scope. */
export const make = (options: AmqpSinkOptions): Effect.Effect<Sink, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lock = yield* Semaphore.make(1)
    let connected: Connected | undefined

    const connectOnce = Effect.tryPromise({
      try: async (): Promise<Connected> => {
        const connection = await Amqp.connect(options.url, {
          clientProperties: { connection_name: options.name ?? `verity-relay-${options.exchange}` }
        })
        try {
          const channel = await connection.createConfirmChannel()
          await channel.assertExchange(options.exchange, "topic", { durable: true })
          const state: Connected = { connection, channel, returned: new Set(), closed: false }
          const lost = () => {
            state.closed = true
          }
          // Without an `error` listener an emitter's error would be thrown; the close is what matters.
          connection.on("error", lost)
          connection.on("close", lost)
          channel.on("error", lost)
          channel.on("close", lost)
          channel.on("return", (message: Amqp.Message) => {
            const id: unknown = message.properties.messageId
            if (typeof id === "string") state.returned.add(id)
          })
          return state
        } catch (error) {
          await connection.close().catch(() => undefined)
          throw error
        }
      },
      catch: (error) => classify(error)
    })

    /** The open channel, connecting first when there is none (or it closed). */
    const ready = lock.withPermit(Effect.gen(function*() {
      if (connected === undefined || connected.closed) {
        const stale = connected
        connected = undefined
        if (stale !== undefined) yield* Effect.promise(() => stale.connection.close().catch(() => undefined))
        connected = yield* connectOnce
      }
      return connected
    }))

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const open = connected
        return open === undefined ? Effect.void : Effect.promise(() => open.connection.close().catch(() => undefined))
      })
    )

    const send = (state: Connected, messages: ReadonlyArray<OutboundMessage>) =>
      Effect.suspend(() => {
        let firstFailed: string | undefined
        return Effect.tryPromise({
          try: async () => {
            state.returned.clear()
            for (const message of messages) {
              // `publish` buffers when the socket is busy (it returns false then); a batch is bounded by the
              // relay's batch size, so the whole batch goes out before waiting.
              state.channel.publish(
                options.exchange,
                `${options.prefix}.${message.subject}`,
                Buffer.from(message.payload),
                {
                  persistent: true,
                  mandatory: true,
                  messageId: message.id,
                  contentType: "application/json",
                  headers: { ...message.headers }
                },
                (error: unknown) => {
                  if (error !== null && error !== undefined && firstFailed === undefined) firstFailed = message.id
                }
              )
            }
            // Rejects when any message was nacked or the channel closed before confirming all of them.
            await state.channel.waitForConfirms()
            return state.returned.size
          },
          catch: (error) => {
            // Start over on a fresh channel: a nacked or half-confirmed channel is not reused.
            state.closed = true
            return classify(error, firstFailed)
          }
        })
      })

    const publish = (messages: ReadonlyArray<OutboundMessage>): Effect.Effect<void, SinkError> =>
      messages.length === 0 ? Effect.void : Effect.gen(function*() {
        const state = yield* ready
        const unroutable = yield* send(state, messages)
        yield* Effect.annotateCurrentSpan("unroutable", unroutable)
        if (unroutable > 0) {
          yield* Effect.logDebug(`${unroutable} of ${messages.length} messages routed to no queue on ${options.exchange}`)
        }
      }).pipe(Effect.withSpan("AmqpSink.publish", { attributes: { messages: messages.length, exchange: options.exchange } }))

    return { publish }
  })
