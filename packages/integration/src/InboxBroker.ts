/**
 * The inbox's side of NATS JetStream: a durable pull consumer with explicit acks (created on first use,
 * its ack wait and filter brought up to date on later starts, recreated at its ack floor when a previous
 * session left messages unacknowledged), consumed through one connection per session, and the consumer's
 * info (pending messages, the publication time of the oldest unacknowledged one) for the inbox's status. A session's connection is closed with its scope.
 */
import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JsMsg,
  type SeqMsgRequest
} from "@nats-io/jetstream"
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node"
import { Array as Arr, Duration, Effect, Queue, type Scope } from "effect"
import { type InboxError, wrap } from "./InboxError.ts"
import * as InboxMessage from "./InboxMessage.ts"

export interface BrokerOptions {
  readonly name: string
  readonly servers: string | ReadonlyArray<string>
  /** The JetStream stream to consume (the relay's). */
  readonly stream: string
  /**
   * The subject to consume, e.g. `verity.account.>` (default: the whole stream). One subject: several
   * (`filter_subjects`) need nats-server 2.10; consume `verity.>` and ignore the rest in the handler.
   */
  readonly filterSubject?: string
  readonly ackWait?: Duration.Input
  /** How many messages the client fetches ahead of the one being handled (default 64). */
  readonly maxMessages?: number
}

const serverList = (servers: string | ReadonlyArray<string>) => typeof servers === "string" ? [servers] : [...servers]

const headersOf = (msg: JsMsg): Record<string, string> => {
  const out: Record<string, string> = {}
  const h = msg.headers
  if (h !== undefined) { for (const key of h.keys()) out[key] = h.get(key) }
  return out
}

/** The inbox's view of one delivered message. */
export const toMessage = (msg: JsMsg): InboxMessage.InboxMessage => InboxMessage.make(msg.subject, msg.seq, headersOf(msg), msg.string())

const connection = (options: BrokerOptions, suffix: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        connect({
          servers: serverList(options.servers),
          name: `verity-inbox-${options.name}${suffix}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250
        }),
      catch: wrap(options.name, "connect", "Broker")
    }),
    (nc: NatsConnection) => Effect.promise(() => nc.close().catch(() => undefined))
  )

/**
 * Creates the durable consumer, or updates the settings a restart may change. Messages a previous session
 * fetched ahead and never acknowledged would be redelivered only after the ack wait, behind newer ones:
 * to keep the order, such a consumer is recreated at its ack floor, so everything after it comes again in
 * order (the handled ones are found in the de-duplication record). This is why one inbox name must have
 * one active process.
 */
const ensureConsumer = (nc: NatsConnection, options: BrokerOptions) =>
  Effect.tryPromise({
    try: async () => {
      const jsm = await jetstreamManager(nc)
      const ackWait = nanos(Duration.toMillis(Duration.fromInputUnsafe(options.ackWait ?? "30 seconds")))
      const filter = options.filterSubject === undefined ? {} : { filter_subject: options.filterSubject }
      const create = (startSeq: number | undefined) =>
        jsm.consumers.add(options.stream, {
          durable_name: options.name,
          ack_policy: AckPolicy.Explicit,
          ack_wait: ackWait,
          ...filter,
          ...(startSeq === undefined
            ? { deliver_policy: DeliverPolicy.All }
            : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq })
        })
      let info: ConsumerInfo
      try {
        info = await jsm.consumers.info(options.stream, options.name)
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error
        await create(undefined)
        return
      }
      if (info.num_ack_pending > 0) {
        await jsm.consumers.delete(options.stream, options.name)
        await create(info.ack_floor.stream_seq + 1)
      } else {
        await jsm.consumers.update(options.stream, options.name, { ack_wait: ackWait, ...filter })
      }
    },
    catch: wrap(options.name, "ensure consumer", "Broker")
  })

/**
 * One consuming session: connects, ensures the durable consumer and returns a pull of the next batch: at
 * least one message (waiting for it), and up to `batchSize` of those already delivered (never waiting for
 * more), in the consumer's order. A background fiber moves delivered messages into a bounded queue. The
 * session ends with its scope.
 */
export const session = (
  options: BrokerOptions,
  batchSize: number
): Effect.Effect<Effect.Effect<Arr.NonEmptyReadonlyArray<JsMsg>, InboxError>, InboxError, Scope.Scope> =>
  Effect.gen(function*() {
    const nc = yield* connection(options, "")
    yield* ensureConsumer(nc, options)
    const consumer = yield* Effect.tryPromise({
      try: () => jetstream(nc).consumers.get(options.stream, options.name),
      catch: wrap(options.name, "consumer", "Broker")
    })
    const messages = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => consumer.consume({ max_messages: options.maxMessages ?? Math.max(64, batchSize) }),
        catch: wrap(options.name, "consume", "Broker")
      }),
      // `stop`, not `close`: `close` waits until the messages fetched ahead were iterated.
      (m) => Effect.sync(() => m.stop())
    )
    const iterator = messages[Symbol.asyncIterator]()
    const queue = yield* Queue.bounded<JsMsg, InboxError>(batchSize)
    const pump = Effect.gen(function*() {
      while (true) {
        const next = yield* Effect.tryPromise({ try: () => iterator.next(), catch: wrap(options.name, "next message", "Broker") })
        if (next.done === true) return yield* Effect.fail(wrap(options.name, "next message", "Broker")("the consumer stopped"))
        yield* Queue.offer(queue, next.value)
      }
    })
    yield* pump.pipe(Effect.catch((error) => Queue.fail(queue, error)), Effect.forkScoped)
    return Queue.takeBetween(queue, 1, batchSize).pipe(
      Effect.flatMap((batch) =>
        Arr.isReadonlyArrayNonEmpty(batch) ? Effect.succeed(batch) : Effect.fail(wrap(options.name, "next message", "Broker")("empty batch"))
      )
    )
  })

/**
 * The publication time of the oldest message the consumer has not acknowledged: the first one of its
 * filter after its ack floor (undefined when there is none).
 */
export const oldestUnacked = (options: BrokerOptions, info: ConsumerInfo): Effect.Effect<Date | undefined, InboxError> =>
  Effect.gen(function*() {
    const nc = yield* Effect.tryPromise({
      try: () => connect({ servers: serverList(options.servers), name: `verity-inbox-${options.name}-lag`, maxReconnectAttempts: 0 }),
      catch: wrap(options.name, "lag", "Broker")
    })
    const seq = info.ack_floor.stream_seq + 1
    // `next_by_subj` (nats-server 2.9+) finds the first message of the filter at or after `seq`.
    const query: SeqMsgRequest & { readonly next_by_subj?: string } = options.filterSubject === undefined
      ? { seq }
      : { seq, next_by_subj: options.filterSubject }
    const stored = yield* Effect.tryPromise({
      try: async () => (await jetstreamManager(nc)).streams.getMessage(options.stream, query),
      catch: wrap(options.name, "lag", "Broker")
    }).pipe(Effect.ensuring(Effect.promise(() => nc.close().catch(() => undefined))))
    return stored === null ? undefined : stored.time
  })

/** The durable consumer's info (pending and unacknowledged counts), through a short-lived connection. */
export const info = (options: BrokerOptions): Effect.Effect<ConsumerInfo, InboxError> =>
  Effect.gen(function*() {
    const nc = yield* Effect.tryPromise({
      try: () => connect({ servers: serverList(options.servers), name: `verity-inbox-${options.name}-status`, maxReconnectAttempts: 0 }),
      catch: wrap(options.name, "status", "Broker")
    })
    return yield* Effect.tryPromise({
      try: async () => (await jetstreamManager(nc)).consumers.info(options.stream, options.name),
      catch: wrap(options.name, "status", "Broker")
    }).pipe(Effect.ensuring(Effect.promise(() => nc.close().catch(() => undefined))))
  })

/** Acknowledges `msg` and waits for the broker to confirm it. */
export const ack = (name: string, msg: JsMsg) =>
  Effect.tryPromise({ try: () => msg.ackAck(), catch: wrap(name, "ack", "Broker") }).pipe(Effect.asVoid)
