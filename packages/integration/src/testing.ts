/**
 * Test helpers around a real NATS JetStream, for the tests of applications that run a relay: unique
 * stream and prefix names, a stream read back in order (subject, headers, JSON payload), and its removal.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
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
