/**
 * The committed-state cache's storage: per store instance (two stores, i.e. two databases or two runtimes
 * standing for two processes, never share an entry), the state and version after the last batch this
 * process committed per stream, least recently written dropped first. Only a guess: callers append at the
 * cached version and drop the entry on any conflict or failure.
 */
import type { Loaded, StateCache } from "../CommandHandler.ts"
import { DEFAULT_CACHE, type Store } from "./Retry.ts"

export interface StateCacheStore<State> {
  readonly get: (store: Store, stream: string) => Loaded<State> | undefined
  /** Keeps (the redacted form of) `loaded` as the stream's most recent entry; no-op without a policy. */
  readonly remember: (store: Store, stream: string, loaded: Loaded<State>) => void
  readonly drop: (store: Store, stream: string) => void
}

export const make = <Command, State>(policy: StateCache<Command, State> | undefined): StateCacheStore<State> => {
  const capacity = Math.max(1, policy?.capacity ?? DEFAULT_CACHE)
  const caches = new WeakMap<Store, Map<string, Loaded<State>>>()

  const cacheOf = (store: Store) => {
    let cache = caches.get(store)
    if (cache === undefined) {
      cache = new Map()
      caches.set(store, cache)
    }
    return cache
  }

  return {
    get: (store, stream) => caches.get(store)?.get(stream),
    remember: (store, stream, loaded) => {
      if (policy === undefined) return
      const cache = cacheOf(store)
      // Insertion order is recency order: an entry is re-inserted on every write.
      cache.delete(stream)
      if (cache.size >= capacity) cache.delete(cache.keys().next().value!)
      cache.set(stream, { state: policy.redact === undefined ? loaded.state : policy.redact(loaded.state), version: loaded.version })
    },
    drop: (store, stream) => {
      caches.get(store)?.delete(stream)
    }
  }
}
