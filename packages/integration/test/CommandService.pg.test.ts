/**
 * Commands over NATS request/reply against the machine's NATS and PostgreSQL, a prefix and a category per
 * test: a valid command is answered with its result and its events are stored; an invalid command, a
 * missing or unknown token, a token without the scope, a domain rejection and a stale expected version are
 * typed error replies and append nothing; malformed JSON is `InvalidCommand`; a retry with the same key
 * gets the original reply and appends once, the key with another command is `IdempotencyKeyReused`; two
 * service instances in one queue group answer each request once.
 */
import { assert, layer } from "@effect/vitest"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { EventStore, PgCommandResults, PgEventStore } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Option } from "effect"
import { CommandClient, CommandReply, CommandService } from "../src/index.ts"
import { SHARED_NATS, unique } from "./Nats.ts"
import { bus, NotPositive } from "./support/Counters.ts"

const WRITER = "writer-token-0123456789"
const READER = "reader-token-0123456789"

const principals = new Map<string, CommandService.Principal>([
  [WRITER, { name: "writer", scopes: new Set(["read", "write"]) }],
  [READER, { name: "reader", scopes: new Set(["read"]) }]
])

const connection = Effect.acquireRelease(
  Effect.promise(() => connect({ servers: SHARED_NATS })),
  (nc) => Effect.promise(() => nc.close())
)

interface Fixture {
  readonly client: NatsConnection
  readonly subject: string
  readonly category: string
  /** Requests each service instance authorized. */
  readonly seen: Array<number>
}

/** `instances` services of one queue group on a fresh prefix and category, and a client connection. */
const fixture = (instances = 1) =>
  Effect.gen(function*() {
    const id = unique()
    const prefix = `cmd${id}`
    const category = `c${id}`
    const counters = bus(category)
    const seen: Array<number> = []
    for (let i = 0; i < instances; i++) {
      seen.push(0)
      const nc = yield* connection
      yield* CommandService.serve(nc, {
        prefix,
        routes: [CommandService.route(counters.registrations[0], { rejection: NotPositive, commands: ["Increment"] })],
        authorize: (token) => {
          seen[i]!++
          return Option.fromUndefinedOr(principals.get(token))
        }
      })
    }
    const client = yield* connection
    return { client, subject: CommandReply.subjectOf(prefix, category), category, seen } satisfies Fixture
  })

const events = (category: string, counterId: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.readStream(`${category}-${counterId}`).pipe(Effect.catchTag("StreamNotFound", () => Effect.succeed([])))
  })

/** A raw request: the reply as JSON. */
const raw = (nc: NatsConnection, subject: string, payload: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const { headers: natsHeaders } = await import("@nats-io/transport-node")
    const h = natsHeaders()
    for (const [k, v] of Object.entries(headers)) h.set(k, v)
    const msg = await nc.request(subject, payload, { timeout: 10_000, headers: h })
    return msg.json<{ ok: boolean; error?: { _tag: string; issue?: string } }>()
  })

forEachDatabase((target) => {
  layer(
    Layer.mergeAll(PgEventStore.layer(), PgCommandResults.layer()).pipe(Layer.provideMerge(TestDatabase.layer(target))),
    { excludeTestServices: true, timeout: "60 seconds" }
  )("CommandService", (it) => {
    it.effect("a valid command is answered with its result, and its events are stored", () =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fixture()
        const counterId = crypto.randomUUID()
        const result = yield* CommandClient.send(f.client, f.subject, { _tag: "Increment", counterId, by: 3 }, {
          token: WRITER,
          correlationId: "corr-1"
        })
        assert.strictEqual(result.version, 1)
        assert.strictEqual(result.positions.length, 1)
        assert.strictEqual(result.correlationId, "corr-1")
        const stored = yield* events(f.category, counterId)
        assert.deepStrictEqual(stored.map((e) => e.data), [{ by: 3 }])
        assert.strictEqual(String(stored[0]!.position), result.positions[0])
        assert.deepInclude(stored[0]!.metadata, { correlationId: "corr-1", actor: "writer" })
      })))

    it.effect("invalid commands, tokens and scopes, rejections and stale versions are typed replies; nothing is stored", () =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fixture()
        const counterId = crypto.randomUUID()
        const send = <C extends { readonly _tag: string }>(command: C, options: CommandClient.SendOptions<NotPositive>) =>
          CommandClient.send(f.client, f.subject, command, options).pipe(Effect.flip)

        const invalid = yield* send({ _tag: "Increment", counterId, by: "2" } as never, { token: WRITER })
        assert.strictEqual(invalid._tag, "InvalidCommand")
        assert.include(invalid._tag === "InvalidCommand" ? invalid.issue : "", "by")
        const notAccepted = yield* send({ _tag: "Reset", counterId }, { token: WRITER })
        assert.strictEqual(notAccepted._tag, "InvalidCommand")

        const noToken = yield* send({ _tag: "Increment", counterId, by: 1 }, { token: "" })
        assert.strictEqual(noToken._tag, "Unauthorized")
        const unknownToken = yield* send({ _tag: "Increment", counterId, by: 1 }, { token: "not-a-token-0123456789" })
        assert.strictEqual(unknownToken._tag, "Unauthorized")
        const readOnly = yield* send({ _tag: "Increment", counterId, by: 1 }, { token: READER })
        assert.deepInclude(readOnly, { _tag: "Forbidden", requiredScope: "write" })

        const rejected = yield* send({ _tag: "Increment", counterId, by: 0 }, { token: WRITER, rejection: NotPositive })
        assert.instanceOf(rejected, NotPositive)
        assert.deepInclude(rejected, { counterId, by: 0 })
        const untyped = yield* send({ _tag: "Increment", counterId, by: -1 }, { token: WRITER })
        assert.deepInclude(untyped, { _tag: "UnknownRejection", tag: "NotPositive" })

        const stale = yield* send({ _tag: "Increment", counterId, by: 1 }, { token: WRITER, expectedVersion: 5 })
        assert.deepInclude(stale, { _tag: "WrongExpectedVersion", actual: 0 })

        assert.deepStrictEqual(yield* events(f.category, counterId), [])
      })))

    it.effect("malformed JSON and a missing token on a raw request are typed replies", () =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fixture()
        const malformed = yield* raw(f.client, f.subject, "{not json", { Authorization: `Bearer ${WRITER}` })
        assert.strictEqual(malformed.ok, false)
        assert.strictEqual(malformed.error?._tag, "InvalidCommand")
        assert.include(malformed.error?.issue ?? "", "not JSON")
        const anonymous = yield* raw(f.client, f.subject, "{}", {})
        assert.strictEqual(anonymous.error?._tag, "Unauthorized")
      })))

    it.effect("a retry with the same key gets the original reply and appends once; the key with another command is refused", () =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fixture()
        const counterId = crypto.randomUUID()
        const key = `key-${unique()}`
        const command = { _tag: "Increment", counterId, by: 2 } as const
        const first = yield* CommandClient.send(f.client, f.subject, command, { token: WRITER, idempotencyKey: key })
        const retried = yield* CommandClient.send(f.client, f.subject, command, { token: WRITER, idempotencyKey: key })
        assert.deepStrictEqual({ ...retried, correlationId: "" }, { ...first, correlationId: "" })
        const other = yield* CommandClient.send(f.client, f.subject, { ...command, by: 5 }, { token: WRITER, idempotencyKey: key }).pipe(
          Effect.flip
        )
        assert.deepInclude(other, { _tag: "IdempotencyKeyReused" })
        const stored = yield* events(f.category, counterId)
        assert.deepStrictEqual(stored.map((e) => e.data), [{ by: 2 }])
      })))

    it.effect("two instances in one queue group answer each request once", () =>
      Effect.scoped(Effect.gen(function*() {
        const f = yield* fixture(2)
        const counterId = crypto.randomUUID()
        const n = 40
        const results = yield* Effect.forEach(
          Array.from({ length: n }, () => ({ _tag: "Increment", counterId, by: 1 }) as const),
          (command) => CommandClient.send(f.client, f.subject, command, { token: WRITER }),
          { concurrency: 8 }
        )
        assert.strictEqual(results.length, n)
        assert.deepStrictEqual([...new Set(results.map((r) => r.version))].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1))
        assert.strictEqual(f.seen[0]! + f.seen[1]!, n)
        assert.strictEqual((yield* events(f.category, counterId)).length, n)
      })))
  })
})
