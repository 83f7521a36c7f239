/**
 * The inbox across processes and in batches, against the machine's NATS JetStream and PostgreSQL: two
 * instances of one inbox name (each with a connection pool of its own, as two processes would have) never
 * both consume; closing the active one hands over to the standby, which finishes, every message applied
 * once and in stream order. An instance whose lease was taken from it commits nothing (the token check in
 * the handling transaction), and its messages are applied once by the next holder. A poison message in
 * the middle of a batch parks only its stream while the rest of the batch commits once.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox, JetStreamSink, Relay, type Sink } from "../src/index.ts"
import { deleteStream, SHARED_NATS, unique } from "./Nats.ts"

const encoder = new TextEncoder()

const message = (stream: string, n: number, poison = false): Sink.OutboundMessage => {
  const id = crypto.randomUUID()
  return {
    subject: "parcel.ParcelSent",
    id,
    headers: { [Relay.Headers.eventId]: id, [Relay.Headers.stream]: stream, [Relay.Headers.streamVersion]: String(n) },
    payload: encoder.encode(JSON.stringify({ data: { n, poison } }))
  }
}

/** Records (instance, stream, n) with no uniqueness, so a repeated effect shows. */
const handler = (instance: string) => (m: Inbox.InboxMessage.InboxMessage) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const { data } = JSON.parse(m.payload) as { readonly data: { readonly n: number; readonly poison: boolean } }
    if (data.poison) return yield* Effect.fail(new Error(`poison ${m.stream}#${data.n}`))
    yield* sql`INSERT INTO lease_effects (instance, stream, n, message_id) VALUES (${instance}, ${m.stream}, ${data.n}, ${m.id})`
  })

const effects = Effect.gen(function*() {
  const sql = yield* SqlClient
  return yield* sql<{ readonly instance: string; readonly stream: string; readonly n: number; readonly message_id: string }>`
    SELECT instance, stream, n, message_id FROM lease_effects ORDER BY id`
})

const exec = (statement: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql.unsafe(statement)
  })

const byStream = (rows: ReadonlyArray<{ readonly stream: string; readonly n: number }>, stream: string) =>
  rows.filter((r) => r.stream === stream).map((r) => r.n)

const inOrderOnce = (
  rows: ReadonlyArray<{ readonly stream: string; readonly n: number; readonly message_id: string }>,
  streams: ReadonlyArray<string>,
  count: number
) => {
  assert.strictEqual(new Set(rows.map((r) => r.message_id)).size, rows.length, "no message applied twice")
  const expected = Array.from({ length: count }, (_, i) => i + 1)
  for (const s of streams) assert.deepStrictEqual(byStream(rows, s), expected, `stream ${s} in order`)
}

forEachDatabase((target) => {
  layer(TestDatabase.layer(target, { maxConnections: 4 }), { excludeTestServices: true, timeout: "120 seconds" })("inbox lease", (it) => {
    /** A fresh database shared by instances with their own pools; a JetStream stream of the test's own. */
    const setup = Effect.gen(function*() {
      const url = yield* TestDatabase.freshDatabaseUrl(target)
      const id = unique()
      const f = { stream: `LEASE_${id}`, prefix: `l${id}`, name: `lease_${id}` }
      const root = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(root, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
      const pool = (scope: Scope.Scope) => Layer.buildWithScope(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }), scope)
      const admin = yield* pool(root)
      yield* Effect.provide(
        exec(`CREATE TABLE lease_effects (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, instance text NOT NULL, stream text NOT NULL, n integer NOT NULL,
          message_id text NOT NULL)`),
        admin
      )
      const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream: f.stream, prefix: f.prefix }).pipe(Scope.provide(root))
      /** An instance in a scope of its own (closed with the test at the latest), over a pool of its own. */
      const instance = (owner: string, extra: Partial<Inbox.InboxOptions<Error, never>> = {}) =>
        Effect.gen(function*() {
          const scope = yield* Scope.fork(root)
          const context = yield* pool(scope)
          const inbox = yield* Inbox.make({
            name: f.name,
            owner,
            servers: SHARED_NATS,
            stream: f.stream,
            filterSubject: `${f.prefix}.parcel.>`,
            ackWait: "1 second",
            retryDelay: "10 millis",
            leaseTtl: "3 seconds",
            leaseRetry: "50 millis",
            handler: handler(owner),
            ...extra
          }).pipe(Scope.provide(scope), Effect.provide(context))
          return { inbox, scope }
        })
      const read = <A, E>(effect: Effect.Effect<A, E, SqlClient>) => Effect.provide(effect, admin)
      return { f, sink, instance, read }
    })

    const settled = (inbox: Inbox.InboxService, handled: number) =>
      eventually(
        `handled ${handled}, nothing pending`,
        inbox.status,
        (s) => s.active && s.handled === handled && s.pending === 0 && s.ackPending === 0
      )

    it.effect("one of two instances consumes; closing it hands over to the other, each message once and in order", () =>
      Effect.gen(function*() {
        const { instance, read, sink } = yield* setup
        const streams = ["parcel-a", "parcel-b", "parcel-c"]
        const batch = (from: number) => Array.from({ length: 30 }, (_, i) => message(streams[i % 3]!, from + Math.floor(i / 3)))
        const second = batch(11)
        const stopAt = second[7]!.id
        const reached = yield* Deferred.make<void>()
        const a = yield* instance("a", {
          // Instance a stops (its scope closes) after committing and before acknowledging a message.
          beforeAck: (m) => m.id === stopAt ? Deferred.succeed(reached, undefined).pipe(Effect.andThen(Effect.never)) : Effect.void
        })
        yield* eventually("a active", a.inbox.status, (s) => s.active)
        const b = yield* instance("b")
        const standby = yield* eventually("b a standby seeing a", b.inbox.status, (s) => s.owner === "a")
        assert.isFalse(standby.active)

        yield* sink.publish(batch(1))
        yield* settled(a.inbox, 30)
        assert.deepStrictEqual([...new Set((yield* read(effects)).map((r) => r.instance))], ["a"], "only a handled")
        assert.isFalse((yield* b.inbox.status).active)

        yield* sink.publish(second)
        yield* Deferred.await(reached)
        yield* Scope.close(a.scope, Exit.void)
        // a committed its last batch without acknowledging it: b finds those in the record; then new ones.
        yield* sink.publish(batch(21))
        const done = yield* settled(b.inbox, 90)
        assert.strictEqual(done.owner, "b")
        assert.strictEqual(done.lagSeconds, 0)
        const rows = yield* read(effects)
        assert.strictEqual(rows.length, 90)
        assert.isAtLeast(rows.filter((r) => r.instance === "b").length, 30, "b took over the work")
        assert.isAtLeast(rows.filter((r) => r.instance === "a").length, 38, "a committed up to where it stopped")
        inOrderOnce(rows, streams, 30)
      }))

    it.effect("an instance whose lease was taken commits nothing; the next holder applies each message once", () =>
      Effect.gen(function*() {
        const { instance, read, sink } = yield* setup
        // A long lease: only the token check in the handling transaction can notice the theft in time.
        const a = yield* instance("a", { leaseTtl: "60 seconds" })
        yield* eventually("a active", a.inbox.status, (s) => s.active)
        yield* read(exec("UPDATE verity_inbox.leases SET owner = 'thief', token = 'stolen', expires_at = now() + interval '1 hour'"))
        yield* sink.publish(["parcel-a", "parcel-b"].flatMap((s) => [1, 2, 3].map((n) => message(s, n))))
        const fenced = yield* eventually("a fenced out, messages waiting", a.inbox.status, (s) =>
          !s.active && s.owner === "thief" && (s.lagSeconds ?? 0) > 0.2)
        assert.isAbove((fenced.pending ?? 0) + (fenced.ackPending ?? 0), 0)
        assert.strictEqual(fenced.handled, 0)
        assert.strictEqual((yield* read(effects)).length, 0, "nothing committed without the lease")

        // The thief "dies": its lease expires, and the next holder applies everything once.
        yield* read(exec("UPDATE verity_inbox.leases SET expires_at = now() - interval '1 second'"))
        const done = yield* settled(a.inbox, 6)
        assert.strictEqual(done.owner, "a")
        const rows = yield* read(effects)
        assert.strictEqual(rows.length, 6)
        inOrderOnce(rows, ["parcel-a", "parcel-b"], 3)
      }))

    it.effect("a poison message in the middle of a batch parks its stream; the rest of the batch commits once", () =>
      Effect.gen(function*() {
        const { instance, read, sink } = yield* setup
        yield* sink.publish([
          message("parcel-a", 1),
          message("parcel-b", 1),
          message("parcel-c", 1),
          message("parcel-a", 2),
          message("parcel-b", 2, true),
          message("parcel-c", 2),
          message("parcel-a", 3),
          message("parcel-b", 3),
          message("parcel-c", 3)
        ])
        const acked: Array<string> = []
        const a = yield* instance("a", { beforeAck: (m) => Effect.sync(() => void acked.push(m.id)) })
        const status = yield* eventually("b parked, the rest through", a.inbox.status, (s) =>
          s.parkedStreams === 1 && s.handled === 7 && s.pending === 0 && s.ackPending === 0)
        assert.deepStrictEqual(status.parked.map((p) => [p.stream, p.waitingMessages, p.attempts]), [["parcel-b", 2, 3]])
        assert.include(status.parked[0]!.error, "poison parcel-b#2")
        assert.strictEqual(status.lagSeconds, 0)
        const rows = yield* read(effects)
        assert.strictEqual(rows.length, 7)
        assert.strictEqual(
          new Set(rows.map((r) =>
            r.message_id
          )).size,
          7
        )
        assert.deepStrictEqual(byStream(rows, "parcel-a"), [1, 2, 3])
        assert.deepStrictEqual(byStream(rows, "parcel-b"), [1])
        assert.deepStrictEqual(byStream(rows, "parcel-c"), [1, 2, 3])
        assert.strictEqual(new Set(acked).size, 9, "every message acknowledged")
      }))
  })
})
