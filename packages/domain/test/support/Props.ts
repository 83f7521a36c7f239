/**
 * Shared property-test settings. Every property runs RUNS (>= 200) generated cases. On failure
 * @effect/vitest prints the shrunk input and a `Replay:` token (it embeds the seed); to reproduce, pass
 * `{ arbitrary: { replay: "<token>" } }` as the test's options.
 */
export const RUNS = 300

/** For properties over single values. */
export const props = { arbitrary: { runs: RUNS } } as const

/**
 * For properties over command sequences: a larger size so that sequences reach tens of commands, and a
 * larger shrink budget so that a failing sequence shrinks to the few commands that matter.
 */
export const sequenceProps = { arbitrary: { runs: RUNS, size: 60, maxShrinks: 1000 } } as const
