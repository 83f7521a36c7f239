/**
 * The start lock of a data folder, `<dataDir>.lock`: held by exactly one process at a time while it starts,
 * attaches to or stops the server, so two processes never both start one. A lock whose holder died, or that
 * its holder stopped touching, is broken by the next process that wants it.
 */
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs/promises"
import { attempt } from "./EmbeddedPostgresError.ts"
import { processAlive, sleep } from "./ServerProcess.ts"

/** The holder touches its lock every few seconds; one untouched for this long is stale whoever holds it. */
const LOCK_STALE_MS = 30_000
/** Every step under the lock is bounded (waits of 60 s, a few start attempts): a wait beyond this is a fault. */
const LOCK_WAIT_MS = 600_000

/**
 * One attempt at `<dataDir>.lock`: created atomically with our pid in it (written to a private file first,
 * then hard-linked into place, which fails when the lock exists). A lock whose holder is dead, or that its
 * holder stopped touching (a reused pid), is removed so the next attempt can take it. Two processes breaking
 * the same stale lock at once could both go on; PostgreSQL's own `postmaster.pid` check then refuses the
 * second server, whose start fails and is retried as an attach.
 */
const tryLock = async (path: string, token: string) => {
  const mine = `${path}.${token}`
  await Fs.writeFile(mine, `${process.pid}\n${token}\n`)
  try {
    await Fs.link(mine, path)
    return true
  } catch (error) {
    if (!(typeof error === "object" && error !== null && "code" in error && error.code === "EEXIST")) throw error
  } finally {
    await Fs.rm(mine, { force: true })
  }
  const [text, stat] = await Promise.all([
    Fs.readFile(path, "utf8").catch(() => undefined),
    Fs.stat(path).catch(() => undefined)
  ])
  if (text === undefined || stat === undefined) return false // released meanwhile: try again
  const holder = Number.parseInt(text.split("\n")[0] ?? "", 10)
  if (!processAlive(holder) || Date.now() - stat.mtimeMs > LOCK_STALE_MS) await Fs.rm(path, { force: true })
  return false
}

/** Runs `effect` holding the data folder's start lock, so that no two processes start or stop it at once. */
export const withLock = <A, E, R>(dataDir: string, effect: Effect.Effect<A, E, R>) => {
  const path = `${dataDir}.lock`
  const token = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  return Effect.acquireUseRelease(
    attempt("LockUnavailable", `could not take the start lock ${path}`, async () => {
      const deadline = Date.now() + LOCK_WAIT_MS
      while (!(await tryLock(path, token))) {
        if (Date.now() > deadline) throw new Error(`held by another process for over ${LOCK_WAIT_MS / 1000} s`)
        await sleep(50)
      }
    }),
    () =>
      Effect.gen(function*() {
        const touch = Effect.promise(() => {
          const now = new Date()
          return Fs.utimes(path, now, now).catch(() => undefined)
        })
        yield* touch.pipe(Effect.repeat(Schedule.spaced("5 seconds")), Effect.forkScoped)
        return yield* effect
      }).pipe(Effect.scoped),
    () =>
      Effect.promise(async () => {
        const text = await Fs.readFile(path, "utf8").catch(() => "")
        if (text.includes(token)) await Fs.rm(path, { force: true })
      })
  )
}
