/**
 * The relay: publishes the declared integration events of the global order to a broker, in order, at
 * least once; every message carries its event id, by which JetStream drops duplicates in its stream and
 * consumers of a broker without de-duplication (RabbitMQ) recognise repeats.
 *
 * It is a projection of the projection runtime, so it inherits what a projection gets: one active runner
 * per name across processes (lock + fenced checkpoint), batches in the commit-safe order, status and lag,
 * parked streams with retry and skip. Its `apply` maps a batch through the contracts and returns only once
 * the sink acknowledged every message; the checkpoint commits after that, so an event is never skipped:
 * a failed or interrupted batch is published again, and the broker recognises the repeats.
 *
 * - A broker outage (a retryable `SinkError`) is a `ProjectionUnavailable`: the runner retries the batch
 *   with backoff, reporting `stalled`, and parks nothing.
 * - An event its contract cannot map, or a message the broker refuses, is a `ProjectionFailure`: the
 *   runner isolates it and parks its stream (later events of that stream wait; other streams go on).
 * - `sideEffects` (never rebuilt or verified: that would publish the history again) without `appends`
 *   (its checkpoint transaction is a plain one, so a slow broker holds no other reader back).
 */
import type { PgClient } from "@effect/sql-pg"
import { type EventStore, type RecordedEvent, type StoreUnavailable, StreamName } from "@verity/eventstore"
import { Projection, Projections } from "@verity/projections"
import { Context, Effect, Layer, Result } from "effect"
import * as Contract from "./Contract.ts"
import type { OutboundMessage, Sink, SinkError } from "./Sink.ts"

export interface RelayOptions {
  /** The relay's projection name (lower case, e.g. `relay`): its checkpoint, lock and status. */
  readonly name: string
  /** One contract per category to publish; events of other categories are not read. */
  readonly contracts: ReadonlyArray<Contract.CategoryContract>
  readonly sink: Sink
  readonly description?: string
}

/** Header names a relay sets on every message (a sink adds its own, e.g. `Nats-Msg-Id`). */
export const Headers = {
  eventId: "verity-event-id",
  stream: "verity-stream",
  streamVersion: "verity-stream-version",
  position: "verity-position",
  checkpoint: "verity-checkpoint",
  schemaVersion: "verity-schema-version",
  correlationId: "verity-correlation-id",
  causationId: "verity-causation-id",
  contractType: "verity-contract-type",
  contractVersion: "verity-contract-version",
  traceparent: "traceparent",
  tracestate: "tracestate",
  contentType: "content-type"
} as const

const encoder = new TextEncoder()

const categoryOf = (event: RecordedEvent): string => {
  const parsed = StreamName.parse(event.streamId)
  return Result.isSuccess(parsed) ? parsed.success.category : event.streamId
}

/** The outbound message of the `index`-th integration event `published` of stored event `event`. */
export const message = (
  category: string,
  event: RecordedEvent,
  published: Contract.IntegrationEvent,
  index: number
): OutboundMessage => {
  const { causationId, correlationId, traceparent, tracestate } = event.metadata
  const headers: Record<string, string> = {
    [Headers.eventId]: event.eventId,
    [Headers.stream]: event.streamId,
    [Headers.streamVersion]: String(event.version),
    [Headers.position]: event.position.toString(),
    [Headers.checkpoint]: event.checkpoint,
    [Headers.schemaVersion]: String(event.schemaVersion),
    [Headers.contractType]: published.type,
    [Headers.contractVersion]: String(published.version),
    [Headers.contentType]: "application/json"
  }
  if (typeof correlationId === "string") headers[Headers.correlationId] = correlationId
  if (typeof causationId === "string") headers[Headers.causationId] = causationId
  if (typeof traceparent === "string") headers[Headers.traceparent] = traceparent
  if (typeof tracestate === "string") headers[Headers.tracestate] = tracestate
  return {
    subject: `${category}.${published.type}`,
    id: index === 0 ? event.eventId : `${event.eventId}/${index}`,
    headers,
    payload: encoder.encode(JSON.stringify(published))
  }
}

/** The messages of a batch, in order, through the contracts by category. */
export const messages = (
  contracts: ReadonlyMap<string, Contract.CategoryContract>,
  events: ReadonlyArray<RecordedEvent>
): Effect.Effect<ReadonlyArray<OutboundMessage>, Contract.ContractError> =>
  Effect.gen(function*() {
    const out: Array<OutboundMessage> = []
    for (const event of events) {
      const category = categoryOf(event)
      const contract = contracts.get(category)
      if (contract === undefined) continue
      const published = yield* Contract.publish(contract, event)
      published.forEach((p, index) => out.push(message(category, event, p, index)))
    }
    return out
  })

/** A sink failure as the runner reads it: an outage is retried, a refusal parks the stream. */
const toRunnerError = (error: SinkError) =>
  error.retryable
    ? new Projection.ProjectionUnavailable({ message: error.message, cause: error })
    : new Projection.ProjectionFailure({ message: error.message, cause: error })

/** The relay as a projection, to run among others in a `Projections` runtime. */
export const projection = (options: RelayOptions): Projection.Projection => {
  const byCategory = new Map(options.contracts.map((c) => [c.category, c]))
  if (byCategory.size !== options.contracts.length) throw new Error(`relay ${options.name}: two contracts share a category`)
  return Projection.make({
    name: options.name,
    // Never bumped: a new generation would publish the history again beside the running one. A contract
    // added later publishes from the relay's checkpoint on; a relay of another name starts from the beginning.
    version: 1,
    description: options.description ?? `relay of ${[...byCategory.keys()].join(", ") || "no category"} to the broker`,
    categories: [...byCategory.keys()],
    eventTypes: [...new Set(options.contracts.flatMap((c) => c.storedTypes))],
    tables: [],
    sideEffects: true,
    appends: false,
    migrate: () => Effect.void,
    apply: (events) =>
      messages(byCategory, events).pipe(
        Effect.mapError((error) => new Projection.ProjectionFailure({ message: error.message, cause: error })),
        Effect.flatMap((batch) => Effect.mapError(options.sink.publish(batch), toRunnerError)),
        Effect.withSpan("Relay.apply", { attributes: { relay: options.name, events: events.length } })
      )
  })
}

/** A relay running in its own projection runtime (a process of its own, or beside an application's). */
export class Relay extends Context.Service<Relay, {
  readonly name: string
  readonly status: Effect.Effect<Projections.ProjectionStatus, Projections.ProjectionsError | StoreUnavailable>
  /** The runtime it runs in: parked streams, retry and skip for the relay. */
  readonly projections: Projections.Projections["Service"]
}>()("@verity/integration/Relay") {}

export interface RelayLayerOptions extends RelayOptions {
  readonly runtime?: Omit<Projections.ProjectionsOptions, "projections">
}

/** Runs the relay; needs a `PgClient` and the `EventStore`. */
export const layer = (
  options: RelayLayerOptions
): Layer.Layer<Relay, Projections.ProjectionsError | StoreUnavailable, PgClient.PgClient | EventStore> =>
  Layer.effect(
    Relay,
    Effect.gen(function*() {
      const relay = projection(options)
      const projections = yield* Projections.make({ ...options.runtime, projections: [relay] })
      return Relay.of({
        name: relay.name,
        status: projections.statusOf(relay.name).pipe(Effect.catchTag("UnknownProjection", Effect.die)),
        projections
      })
    })
  )
