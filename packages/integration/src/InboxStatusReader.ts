/**
 * An inbox's status read from outside the process that runs it: from its rows in `verity_inbox`
 * (progress, parked streams) and the broker's info about its durable consumer (pending messages, ack
 * floor). The API's request thread and the replayer use it, since the inbox may run in another thread or
 * process: nothing here depends on the running inbox's memory, and nothing here consumes.
 *
 * `state`: `not_started` (no progress row and no consumer at the broker yet), `broker_unavailable` (the
 * broker could not be asked; `brokerError` says why), `parked` (a stream waits for an operator),
 * `catching_up` (messages pending or unacknowledged) or `live`.
 */
import { PgClient } from "@effect/sql-pg"
import { type ConsumerInfo, JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect } from "effect"
import type { ParkedStream } from "./Inbox.ts"
import type { BrokerOptions } from "./InboxBroker.ts"
import { type InboxError, wrap } from "./InboxError.ts"
import { SCHEMA } from "./InboxSchema.ts"
import * as InboxStore from "./InboxStore.ts"

export type InboxState = "not_started" | "broker_unavailable" | "parked" | "catching_up" | "live"

export interface InboxReport {
  readonly name: string
  readonly stream: string
  readonly filterSubject: string | undefined
  readonly state: InboxState
  readonly brokerError: string | undefined
  readonly handled: number
  /** The broker sequence, store position (as text), source stream and time of the last handled message. */
  readonly lastSeq: number | undefined
  readonly lastPosition: string | undefined
  readonly lastStream: string | undefined
  readonly lastHandledAt: Date | undefined
  /** Lag in messages: the consumer's `num_pending` (undefined when the broker cannot be asked or has no consumer yet). */
  readonly pending: number | undefined
  readonly ackPending: number | undefined
  /**
   * Lag in seconds: the age of the stream's first message after the consumer's ack floor (0 when nothing
   * is pending; undefined when the broker cannot be asked). With a subject filter the message after the
   * floor may be of another subject, so this is an upper bound.
   */
  readonly lagSeconds: number | undefined
  readonly parkedStreams: number
  readonly parked: ReadonlyArray<ParkedStream>
}

interface BrokerView {
  readonly info: ConsumerInfo | undefined
  readonly lagSeconds: number
}

const serverList = (servers: string | ReadonlyArray<string>) => typeof servers === "string" ? [servers] : [...servers]

/** The consumer's info and lag, through a short-lived connection (undefined info: no consumer yet). */
const broker = (options: BrokerOptions): Effect.Effect<BrokerView, InboxError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => connect({ servers: serverList(options.servers), name: `verity-inbox-${options.name}-status`, maxReconnectAttempts: 0 }),
      catch: wrap(options.name, "status", "Broker")
    }),
    (nc) =>
      Effect.tryPromise({
        try: async (): Promise<BrokerView> => {
          const jsm = await jetstreamManager(nc)
          let info: ConsumerInfo
          try {
            info = await jsm.consumers.info(options.stream, options.name)
          } catch (error) {
            if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return { info: undefined, lagSeconds: 0 }
            throw error
          }
          if (info.num_pending === 0 && info.num_ack_pending === 0) return { info, lagSeconds: 0 }
          // The next message is gone when the stream's limits removed it: count no age then.
          const next = await jsm.streams.getMessage(options.stream, { seq: info.ack_floor.stream_seq + 1 }).catch(() => null)
          return { info, lagSeconds: next === null ? 0 : Math.max(0, (Date.now() - next.time.getTime()) / 1000) }
        },
        catch: wrap(options.name, "status", "Broker")
      }),
    (nc) => Effect.promise(() => nc.close().catch(() => undefined))
  )

/**
 * Whether `options.stream` exists at the broker, through a short-lived connection (fails when the broker
 * cannot be asked). An application waits on it before starting an inbox on a stream the relay creates on
 * its first publish, rather than letting the inbox's sessions fail until then.
 */
export const streamExists = (options: BrokerOptions): Effect.Effect<boolean, InboxError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => connect({ servers: serverList(options.servers), name: `verity-inbox-${options.name}-probe`, maxReconnectAttempts: 0 }),
      catch: wrap(options.name, "stream probe", "Broker")
    }),
    (nc) =>
      Effect.tryPromise({
        try: async () => {
          const jsm = await jetstreamManager(nc)
          try {
            await jsm.streams.info(options.stream)
            return true
          } catch (error) {
            if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return false
            throw error
          }
        },
        catch: wrap(options.name, "stream probe", "Broker")
      }),
    (nc) => Effect.promise(() => nc.close().catch(() => undefined))
  )

/** True once some inbox migrated `verity_inbox` in this database. */
const migrated = (pg: PgClient.PgClient) =>
  Effect.map(
    pg<{ readonly present: boolean }>`SELECT to_regclass(${`${SCHEMA}.consumers`}) IS NOT NULL AS present`,
    (rows) => rows[0]?.present === true
  )

/** The parked streams of inbox `name`, oldest first (none before any inbox ran here). */
export const parked = (name: string): Effect.Effect<ReadonlyArray<ParkedStream>, InboxError, PgClient.PgClient> =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    if (!(yield* migrated(pg))) return []
    const rows = yield* InboxStore.make(pg).list(name)
    return rows.map((row): ParkedStream => ({
      stream: row.stream_id,
      messageId: row.message_id,
      error: row.error,
      attempts: row.attempts,
      waitingMessages: Number(row.waiting),
      parkedAt: row.parked_at
    }))
  }).pipe(Effect.mapError(wrap(name, "parked", "Database")))

/** The status of the inbox `options` describes (its name, stream and filter; no handler needed). */
export const read = (options: BrokerOptions): Effect.Effect<InboxReport, InboxError, PgClient.PgClient> =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const progress = (yield* migrated(pg)) ? yield* InboxStore.make(pg).progress(options.name) : undefined
    return progress
  }).pipe(
    Effect.mapError(wrap(options.name, "status", "Database")),
    Effect.flatMap((progress) =>
      Effect.all([parked(options.name), Effect.result(broker(options))], { concurrency: 2 }).pipe(
        Effect.map(([list, view]): InboxReport => {
          const reached = view._tag === "Success" ? view.success : undefined
          const info = reached?.info
          const state: InboxState = view._tag === "Failure"
            ? "broker_unavailable"
            : list.length > 0
            ? "parked"
            : info === undefined && progress === undefined
            ? "not_started"
            : info !== undefined && (info.num_pending > 0 || info.num_ack_pending > 0)
            ? "catching_up"
            : "live"
          return {
            name: options.name,
            stream: options.stream,
            filterSubject: options.filterSubject,
            state,
            brokerError: view._tag === "Failure" ? view.failure.message : undefined,
            handled: Number(progress?.handled ?? 0),
            lastSeq: progress?.last_seq == null ? undefined : Number(progress.last_seq),
            lastPosition: progress?.last_position == null ? undefined : progress.last_position.toString(),
            lastStream: progress?.last_stream ?? undefined,
            lastHandledAt: progress?.last_handled_at ?? undefined,
            pending: info?.num_pending,
            ackPending: info?.num_ack_pending,
            lagSeconds: reached?.lagSeconds,
            parkedStreams: list.length,
            parked: list
          }
        })
      )
    )
  )
