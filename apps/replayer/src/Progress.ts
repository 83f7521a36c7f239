/**
 * Progress of a long run (rebuild, migration): on a TTY one line redrawn in place on stderr (done, rate,
 * ETA); otherwise a plain log line every few seconds, so CI logs stay readable.
 */
import { Effect } from "effect"

export interface Tracker {
  readonly update: (done: number) => Effect.Effect<void>
  readonly finish: (done: number) => Effect.Effect<{ readonly seconds: number; readonly perSecond: number }>
}

const number = (n: number) => Math.round(n).toLocaleString("en-US")

const duration = (seconds: number) => {
  if (!Number.isFinite(seconds)) return "?"
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const m = Math.floor(seconds / 60)
  return `${m}m${Math.ceil(seconds - m * 60)}s`
}

// `isTTY` is typed boolean but is undefined when stderr is not a terminal.
// oxlint-disable-next-line typescript/no-unnecessary-boolean-literal-compare
export const make = (label: string, total: number | undefined, tty: boolean = process.stderr.isTTY === true): Tracker => {
  const started = performance.now()
  let lastDraw = 0
  const line = (done: number) => {
    const seconds = (performance.now() - started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    const share = total !== undefined && total > 0 ? ` / ${number(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)` : ""
    const eta = total !== undefined && rate > 0 ? `, ETA ${duration(Math.max(0, total - done) / rate)}` : ""
    return `${label}: ${number(done)}${share} events, ${number(rate)} events/s${eta}`
  }
  return {
    update: (done) =>
      Effect.sync(() => {
        const now = performance.now()
        if (tty) {
          if (now - lastDraw < 100) return
          process.stderr.write(`\r\x1b[2K${line(done)}`)
        } else {
          if (now - lastDraw < 5_000) return
          process.stderr.write(`${line(done)}\n`)
        }
        lastDraw = now
      }),
    finish: (done) =>
      Effect.sync(() => {
        const seconds = (performance.now() - started) / 1000
        if (tty) process.stderr.write(`\r\x1b[2K`)
        return { seconds, perSecond: seconds > 0 ? done / seconds : done }
      })
  }
}
