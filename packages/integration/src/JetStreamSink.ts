/**
 * The NATS JetStream sink. It connects lazily (the first publish, and again after a failed connect), so a
 * relay starts while the broker is down and reports it as an outage instead of failing its process; once
 * connected, the client reconnects on its own. It ensures its stream (subjects `<prefix>.>`) before the
 * first publish and again after any failure (a broker restarted with an empty store has lost it).
 *
 * A publish sends every message at once, pipelined on the one connection with one reply subscription for
 * all acknowledgements (see JetStreamPublisher.ts), with `Nats-Msg-Id` = the message id, so the stream drops a republished duplicate within its duplicate window.
 * Each message after the first also expects the previous one to be the stream's last message
 * (`Nats-Expected-Last-Msg-Id`): when one is lost in flight (a broker restart), those behind it are refused
 * rather than stored ahead of it, and the relay's retry republishes them in order. This needs the relay to
 * be the stream's only publisher.
 */
import { JetStreamApiCodes, JetStreamApiError, JetStreamError, jetstreamManager } from "@nats-io/jetstream"
import { connect, errors, nanos, type NatsConnection } from "@nats-io/transport-node"
import { Duration, Effect, type Scope, Semaphore } from "effect"
import * as JetStreamPublisher from "./JetStreamPublisher.ts"
import { type OutboundMessage, type Sink, SinkError } from "./Sink.ts"

export interface JetStreamSinkOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | ReadonlyArray<string>
  /** Name of the JetStream stream the relay owns. */
  readonly stream: string
  /** Subject prefix: messages go to `<prefix>.<category>.<type>`. */
  readonly prefix: string
  /** A publish fails (`Unavailable`) once no acknowledgement arrived for this long (default 5 s). */
  readonly ackTimeout?: Duration.Input
  /** The stream's de-duplication window when the sink creates it (default 10 minutes). */
  readonly duplicateWindow?: Duration.Input
  /** The connection's name as the server shows it. */
  readonly name?: string
}

/** Reads a broker failure as a `SinkError`: anything but a refusal of the message itself is an outage. */
export const classify = (error: unknown, messageId?: string): SinkError => {
  const detail = error instanceof Error ? error.message : String(error)
  const base = { detail, cause: error, ...(messageId === undefined ? {} : { messageId }) }
  if (error instanceof JetStreamApiError) {
    if (error.code === JetStreamPublisher.WRONG_LAST_MSG_ID) return new SinkError({ ...base, reason: "OutOfOrder" })
    // 503: no JetStream responder (restarting, stream lost); 5xx: the server's own trouble.
    return new SinkError({ ...base, reason: error.status >= 500 ? "Unavailable" : "Rejected" })
  }
  if (error instanceof errors.PermissionViolationError || error instanceof errors.InvalidSubjectError) {
    return new SinkError({ ...base, reason: "Rejected" })
  }
  if (error instanceof errors.InvalidArgumentError && /max_payload|payload/i.test(detail)) {
    return new SinkError({ ...base, reason: "Rejected" })
  }
  return new SinkError({ ...base, reason: "Unavailable" })
}

interface Connected {
  readonly nc: NatsConnection
  readonly publisher: JetStreamPublisher.Publisher
}

/** A JetStream sink; its connection (once made) is closed with the scope. */
export const make = (options: JetStreamSinkOptions): Effect.Effect<Sink, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ackTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.ackTimeout ?? "5 seconds"))
    const duplicateWindow = Duration.toMillis(Duration.fromInputUnsafe(options.duplicateWindow ?? "10 minutes"))
    const servers = typeof options.servers === "string" ? [options.servers] : [...options.servers]
    const lock = yield* Semaphore.make(1)
    let connected: Connected | undefined
    let ensured = false
    const subjectOf = (message: OutboundMessage) => `${options.prefix}.${message.subject}`

    const connectOnce = Effect.tryPromise({
      try: async (): Promise<Connected> => {
        const nc = await connect({
          servers,
          name: options.name ?? `verity-relay-${options.stream}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250
        })
        return { nc, publisher: JetStreamPublisher.make(nc, classify) }
      },
      catch: (error) => classify(error)
    })

    const ensureStream = (nc: NatsConnection) =>
      Effect.tryPromise({
        try: async () => {
          const jsm = await jetstreamManager(nc, { timeout: ackTimeout })
          const subject = `${options.prefix}.>`
          try {
            const info = await jsm.streams.info(options.stream)
            if (!info.config.subjects.includes(subject)) {
              await jsm.streams.update(options.stream, { subjects: [...info.config.subjects, subject] })
            }
          } catch (error) {
            if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error
            await jsm.streams.add({ name: options.stream, subjects: [subject], duplicate_window: nanos(duplicateWindow) })
          }
        },
        catch: (error) => classify(error)
      })

    /** The connection with its stream ensured, connecting first when there is none. */
    const ready = lock.withPermit(Effect.gen(function*() {
      if (connected === undefined || connected.nc.isClosed()) connected = yield* connectOnce
      if (!ensured) {
        yield* ensureStream(connected.nc)
        ensured = true
      }
      return connected
    }))

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const open = connected
        return open === undefined ? Effect.void : Effect.promise(() => open.nc.close().catch(() => undefined))
      })
    )

    const send = (publisher: JetStreamPublisher.Publisher, messages: ReadonlyArray<OutboundMessage>) =>
      Effect.callback<void, SinkError>((resume) => {
        // Waits for every ack (or the timeout) before answering, so a retry never overlaps this attempt.
        const cancel = publisher.send(messages, subjectOf, ackTimeout, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
        return Effect.sync(cancel)
      })

    const publish = (messages: ReadonlyArray<OutboundMessage>): Effect.Effect<void, SinkError> =>
      messages.length === 0 ? Effect.void : Effect.gen(function*() {
        const { publisher } = yield* ready
        yield* send(publisher, messages).pipe(Effect.tapError(() =>
          Effect.sync(() => {
            ensured = false
          })
        ))
      }).pipe(Effect.withSpan("JetStreamSink.publish", { attributes: { messages: messages.length, stream: options.stream } }))

    return { publish }
  })

/** Re-exported so callers can tell a JetStream failure apart in a `SinkError`'s cause. */
export { JetStreamError }
