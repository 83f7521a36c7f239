/**
 * A small seeded random source (mulberry32), so that a chaos run's choices (amounts, accounts, which
 * process to kill, when) repeat for the same `--seed`. Timing still varies between runs; the choices do not.
 */
export interface Seeded {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

export const make = (seed: number): Seeded => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const pick = <A>(items: ReadonlyArray<A>): A => {
    // A caller bug, not an outcome: every list picked from here is checked non-empty first.
    if (items.length === 0) throw new RangeError("pick from an empty list")
    return items[int(0, items.length - 1)]!
  }
  return { next, int, pick }
}
