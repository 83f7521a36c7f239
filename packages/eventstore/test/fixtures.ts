/** Small builders shared by the event store tests. */
import { randomUUID } from "node:crypto"
import type { NewEvent } from "../src/index.ts"

export const event = (type: string, data: unknown = {}, metadata?: NewEvent["metadata"]): NewEvent =>
  metadata === undefined ? { eventId: randomUUID(), type, data } : { eventId: randomUUID(), type, data, metadata }

export const events = (n: number, type = "Something"): ReadonlyArray<NewEvent> => Array.from({ length: n }, (_, i) => event(type, { i }))

let counter = 0
/** A fresh stream name in `category`, unique within the test run. */
export const streamName = (category = "test") => `${category}-${randomUUID().slice(0, 8)}${(counter++).toString(36)}`
