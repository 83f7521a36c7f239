/**
 * A small Server-Sent Events client for tests, on fetch: opens a feed, hands out its messages one at a
 * time as they arrive (comments too, so heartbeats can be observed), and disconnects on demand. Parsing
 * follows the SSE format as far as the API writes it (`id`, `event`, `data`, `retry`, `: comment`).
 */
import { Effect } from "effect"
import * as T from "./TestApi.ts"

export interface Message {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly retry?: string
  readonly comment?: string
}

export interface Feed {
  readonly status: number
  readonly headers: Headers
  /** The body as text when the response is not a stream (a problem). */
  readonly text: string
  /** The next message; none when the stream ended. */
  readonly next: Effect.Effect<Message | undefined>
  /** True once the body broke off (a reset connection) instead of ending cleanly. */
  readonly aborted: Effect.Effect<boolean>
  /** Disconnects (aborts the request). */
  readonly close: Effect.Effect<void>
}

const parse = (block: string): Message => {
  const message: Record<string, string> = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) message["comment"] = line.slice(1).trim()
    else {
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      message[field] = message[field] === undefined || field !== "data" ? value : `${message[field]}\n${value}`
    }
  }
  return message
}

/** An SSE client on `url` (Promise-based, for tests that drive a child process); the body is read on demand. */
export const connect = async (url: string, options: { readonly token?: string; readonly headers?: Record<string, string> } = {}) => {
  const controller = new AbortController()
  const headers: Record<string, string> = { accept: "text/event-stream", ...options.headers }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  const response = await fetch(url, { headers, signal: controller.signal })
  const streaming = (response.headers.get("content-type") ?? "").startsWith("text/event-stream")
  const text = streaming ? "" : await response.text()
  const reader = streaming ? response.body!.getReader() : undefined
  const decoder = new TextDecoder()
  let buffer = ""
  let ended = !streaming
  let aborted = false
  const next = async (): Promise<Message | undefined> => {
    while (true) {
      const end = buffer.indexOf("\n\n")
      if (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        return parse(block)
      }
      if (ended || reader === undefined) return undefined
      const chunk = await reader.read().catch(() => {
        aborted = true
        return { done: true as const, value: undefined }
      })
      if (chunk.done) ended = true
      else buffer += decoder.decode(chunk.value, { stream: true })
    }
  }
  const close = () => {
    ended = true
    controller.abort()
  }
  return { status: response.status, headers: response.headers, text, next, aborted: () => aborted, close }
}

/** `GET path` on the test server as an SSE client; the body is read only as fast as `next` is called. */
export const open = (path: string, options: { readonly token?: string; readonly headers?: Record<string, string> } = {}) =>
  Effect.gen(function*() {
    const url = (yield* T.baseUrl) + path
    const feed = yield* Effect.promise(() => connect(url, options))
    return {
      status: feed.status,
      headers: feed.headers,
      text: feed.text,
      next: Effect.promise(feed.next),
      aborted: Effect.sync(feed.aborted),
      close: Effect.sync(feed.close)
    } satisfies Feed
  })

/** The next `count` event messages (comments and `retry` skipped); fails when the stream ends first. */
export const take = (feed: Feed, count: number) =>
  Effect.gen(function*() {
    const out: Array<Message> = []
    while (out.length < count) {
      const message = yield* feed.next
      if (message === undefined) return yield* Effect.die(new Error(`the feed ended after ${out.length} of ${count} events`))
      if (message.id !== undefined) out.push(message)
    }
    return out
  }).pipe(
    Effect.timeoutOrElse({
      duration: "30 seconds",
      orElse: () => Effect.die(new Error(`timed out waiting for ${count} events`))
    })
  )
