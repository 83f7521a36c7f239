/**
 * Publishing to JetStream on one connection with one reply subscription: every message goes out as a plain
 * core publish whose reply subject is `<inbox>.<attempt>.<index>`, and the stream's acknowledgements come
 * back on the one wildcard subscription, where the reply subject says which message of which attempt each
 * one answers. This replaces a request per message (a timer, a pending entry and two error objects with
 * their stack traces each, per message) by a map lookup; the acknowledgements still say exactly what the
 * stream stored, and a late one of an abandoned attempt is recognised and ignored.
 *
 * The order guarantee stays the stream's: each message after the first carries the previous message's id
 * in `Nats-Expected-Last-Msg-Id`, so one lost in flight makes those behind it refused, not stored ahead of it.
 */
import { createInbox, type Msg, MsgHdrsImpl, type NatsConnection } from "@nats-io/transport-node"
import type { OutboundMessage } from "./Sink.ts"
import { SinkError } from "./Sink.ts"

/** JetStream API error code: the stream's last message id was not the expected one. */
export const WRONG_LAST_MSG_ID = 10070

/** A JetStream acknowledgement's JSON: `{ stream, seq, duplicate? }` or `{ error: { code, err_code, description } }`. */
interface Ack {
  readonly error?: { readonly code?: number; readonly err_code?: number; readonly description?: string }
}

/** Reads a negative acknowledgement as a `SinkError`, like `classify` reads a client error. */
export const fromAckError = (error: NonNullable<Ack["error"]>, messageId: string): SinkError => {
  const detail = error.description ?? `JetStream error ${error.code ?? "?"}/${error.err_code ?? "?"}`
  const reason = error.err_code === WRONG_LAST_MSG_ID ? "OutOfOrder" : (error.code ?? 500) >= 500 ? "Unavailable" : "Rejected"
  return new SinkError({ reason, detail, messageId })
}

interface Attempt {
  readonly messages: ReadonlyArray<OutboundMessage>
  /** Per message: undefined while unanswered, null once stored, else why not. */
  readonly outcomes: Array<SinkError | null | undefined>
  /** Messages published and not yet answered. */
  pending: number
  lastProgress: number
  timer: ReturnType<typeof setTimeout> | undefined
  readonly done: (error: SinkError | undefined) => void
}

export interface Publisher {
  /**
   * Publishes `messages` in order and calls `done` once every published message was answered (or none was
   * for `ackTimeout` ms): with nothing when the stream stored all of them, else the first message's failure
   * in publish order (those behind a lost message are refused as out of order). Returns a canceller.
   */
  readonly send: (
    messages: ReadonlyArray<OutboundMessage>,
    subjectOf: (message: OutboundMessage) => string,
    ackTimeout: number,
    done: (error: SinkError | undefined) => void
  ) => () => void
}

const decoder = new TextDecoder()

/** A header name: printable ASCII except the colon (what the NATS client accepts). */
const VALID_NAME = /^[!-9;-~]+$/
const INVALID_VALUE = /[\r\n]/

/**
 * The message's NATS headers, filled directly: the client's `set` re-lists every key twice per call
 * (quadratic in the header count), which was a tenth of the relay's CPU. Validated as the client does.
 */
const headersOf = (message: OutboundMessage, previousId: string | undefined): MsgHdrsImpl | string => {
  const headers = new MsgHdrsImpl()
  const map = headers.headers
  for (const key in message.headers) {
    const value = message.headers[key]!
    if (!VALID_NAME.test(key)) return `invalid header name ${JSON.stringify(key)}`
    if (INVALID_VALUE.test(value)) return `header ${key}: values cannot contain CR or LF`
    map.set(key, [value.trim()])
  }
  map.set("Nats-Msg-Id", [message.id])
  if (previousId !== undefined) map.set("Nats-Expected-Last-Msg-Id", [previousId])
  return headers
}

/** A publisher on `nc`; its subscription lives as long as the connection (and follows its reconnects). */
export const make = (nc: NatsConnection, classify: (error: unknown, messageId?: string) => SinkError): Publisher => {
  const inbox = createInbox()
  const attempts = new Map<number, Attempt>()
  let nextAttempt = 0

  const finish = (id: number, attempt: Attempt) => {
    attempts.delete(id)
    if (attempt.timer !== undefined) clearTimeout(attempt.timer)
    let failure: SinkError | undefined
    for (let i = 0; i < attempt.messages.length && failure === undefined; i++) {
      const outcome = attempt.outcomes[i]
      if (outcome === null) continue
      failure = outcome ?? new SinkError({ reason: "Unavailable", detail: "no acknowledgement in time", messageId: attempt.messages[i]!.id })
    }
    attempt.done(failure)
  }

  const onReply = (msg: Msg) => {
    const rest = msg.subject.slice(inbox.length + 1)
    const dot = rest.indexOf(".")
    const id = Number(rest.slice(0, dot))
    const index = Number(rest.slice(dot + 1))
    const attempt = attempts.get(id)
    // A late answer of an attempt already given up (or a duplicate answer): nothing waits for it.
    if (attempt === undefined || attempt.outcomes[index] !== undefined) return
    const messageId = attempt.messages[index]!.id
    if (msg.data.length === 0 && (msg.headers?.code ?? 0) >= 400) {
      attempt.outcomes[index] = new SinkError({ reason: "Unavailable", detail: `no JetStream responder (${msg.headers?.code})`, messageId })
    } else {
      let ack: Ack
      try {
        ack = JSON.parse(decoder.decode(msg.data)) as Ack
      } catch (error) {
        ack = { error: { code: 500, description: `unreadable acknowledgement: ${String(error)}` } }
      }
      attempt.outcomes[index] = ack.error === undefined ? null : fromAckError(ack.error, messageId)
    }
    attempt.lastProgress = performance.now()
    if (--attempt.pending === 0) finish(id, attempt)
  }

  nc.subscribe(`${inbox}.>`, { callback: (error, msg) => error === null ? onReply(msg) : undefined })

  const send: Publisher["send"] = (messages, subjectOf, ackTimeout, done) => {
    const id = nextAttempt++
    const attempt: Attempt = {
      messages,
      outcomes: new Array(messages.length),
      pending: 0,
      lastProgress: performance.now(),
      timer: undefined,
      done
    }
    attempts.set(id, attempt)
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!
      const headers = headersOf(message, i === 0 ? undefined : messages[i - 1]!.id)
      if (typeof headers === "string") {
        attempt.outcomes[i] = new SinkError({ reason: "Rejected", detail: headers, messageId: message.id })
        break
      }
      try {
        nc.publish(subjectOf(message), message.payload, { reply: `${inbox}.${id}.${i}`, headers })
        attempt.pending++
      } catch (error) {
        // Not sent (too large, closed connection): those behind it would be refused anyway.
        attempt.outcomes[i] = classify(error, message.id)
        break
      }
    }
    if (attempt.pending === 0) {
      finish(id, attempt)
      return () => undefined
    }
    // One timer per attempt: it gives up once no acknowledgement arrived for `ackTimeout`.
    const check = () => {
      const idle = performance.now() - attempt.lastProgress
      if (idle >= ackTimeout) return finish(id, attempt)
      attempt.timer = setTimeout(check, ackTimeout - idle)
    }
    attempt.timer = setTimeout(check, ackTimeout)
    return () => {
      if (attempt.timer !== undefined) clearTimeout(attempt.timer)
      attempts.delete(id)
    }
  }

  return { send }
}
