/**
 * A subscriber to what a Verity relay publishes: reads the JetStream stream from its first message with an
 * ordered (ephemeral, in-order) consumer and prints one line per integration event: subject, the stored
 * event's stream and version, the contract type and version, and the data. It acknowledges nothing and
 * keeps no position: a service of its own would use a durable consumer instead.
 *
 *   NATS_URL=nats://127.0.0.1:4222 node packages/integration/examples/subscribe.ts [--limit N]
 *
 * `VERITY_RELAY_STREAM` (default `VERITY`) and `VERITY_RELAY_PREFIX` (default `verity`) as for the relay;
 * `--limit N` stops after N messages; Ctrl-C stops it otherwise.
 */
import { jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"

const servers = (process.env["NATS_URL"] ?? "nats://127.0.0.1:4222").split(",").map((s) => s.trim())
const stream = process.env["VERITY_RELAY_STREAM"] || "VERITY"
const prefix = process.env["VERITY_RELAY_PREFIX"] || "verity"
const limitAt = process.argv.indexOf("--limit")
const limit = limitAt === -1 ? Number.POSITIVE_INFINITY : Number(process.argv[limitAt + 1])

const nc = await connect({ servers, name: "verity-example-subscriber" })
const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: `${prefix}.>` })
const messages = await consumer.consume()
const stop = () => void messages.close()
process.once("SIGINT", stop)
process.once("SIGTERM", stop)

let seen = 0
for await (const m of messages) {
  const event = m.json<{ readonly type: string; readonly version: number; readonly data: unknown }>()
  const from = `${m.headers?.get("verity-stream") ?? "?"}@${m.headers?.get("verity-stream-version") ?? "?"}`
  process.stdout.write(`${m.seq} ${m.subject} ${from} ${event.type} v${event.version} ${JSON.stringify(event.data)}\n`)
  if (++seen >= limit) break
}
await nc.close()
