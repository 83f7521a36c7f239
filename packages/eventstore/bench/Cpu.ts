/**
 * Who used the machine's CPU during a measurement: this process, the PostgreSQL processes serving the
 * benchmark's database (its backends plus the server's shared writers), and everything else. On a small
 * shared machine "everything else" is noise that lowers the numbers: printing it says when a run was
 * disturbed (other test suites, builds) and should be repeated. Needs /proc and a server on this machine;
 * otherwise the PostgreSQL share reads as 0 and counts as "other".
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

export interface Sample {
  readonly at: number
  readonly benchMicros: number
  readonly postgresMillis: number
  readonly machineBusyMillis: number
}

/** CPU used during an interval, each as a percentage of ONE core (200% = all of a 2-core machine). */
export interface Usage {
  readonly bench: number
  readonly postgres: number
  readonly other: number
}

/** /proc reports process times in USER_HZ ticks, 100 per second on every Linux this runs on. */
const TICK_MILLIS = 10
/** Server-wide processes that work for every database, ours included (WAL flushes, checkpoints). */
const SHARED = /(checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|stats collector)/

/**
 * The postmaster of the server holding `database`, when that server runs on this machine: the parent of
 * the backend with pid `backendPid` (a pid reported by a remote server means nothing here, hence the check).
 */
export const localPostmaster = (database: string, backendPid: number): number | undefined => {
  try {
    if (!Fs.readFileSync(`/proc/${backendPid}/cmdline`, "latin1").includes(database)) return undefined
    const stat = Fs.readFileSync(`/proc/${backendPid}/stat`, "latin1")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

const postgresMillis = (database: string, postmaster: number | undefined): number => {
  if (postmaster === undefined) return 0
  let ticks = 0
  let pids: Array<string>
  try {
    pids = Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return 0
  }
  for (const pid of pids) {
    try {
      const stat = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
      const close = stat.lastIndexOf(")")
      const fields = stat.slice(close + 2).split(" ")
      if (Number(pid) !== postmaster) {
        if (Number(fields[1]) !== postmaster) continue
        // Backends and autovacuum workers name their database in the process title.
        const cmdline = Fs.readFileSync(`/proc/${pid}/cmdline`, "latin1")
        if (!cmdline.includes(database) && !SHARED.test(cmdline)) continue
      }
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process ended while we looked: its time is lost, which only matters for short-lived processes.
    }
  }
  return ticks * TICK_MILLIS
}

const machineBusyMillis = (): number => {
  let busy = 0
  for (const cpu of Os.cpus()) busy += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq
  return busy
}

/** CPU milliseconds spent during an interval; additive, so interleaved slices of one scenario sum up. */
export interface Spent {
  readonly elapsedMillis: number
  readonly benchMillis: number
  readonly postgresMillis: number
  readonly machineMillis: number
}

export const none: Spent = { elapsedMillis: 0, benchMillis: 0, postgresMillis: 0, machineMillis: 0 }

export const add = (a: Spent, b: Spent): Spent => ({
  elapsedMillis: a.elapsedMillis + b.elapsedMillis,
  benchMillis: a.benchMillis + b.benchMillis,
  postgresMillis: a.postgresMillis + b.postgresMillis,
  machineMillis: a.machineMillis + b.machineMillis
})

export const usage = (spent: Spent): Usage => {
  const percent = (millis: number) => Math.max(0, (millis / Math.max(1, spent.elapsedMillis)) * 100)
  return {
    bench: percent(spent.benchMillis),
    postgres: percent(spent.postgresMillis),
    other: percent(spent.machineMillis - spent.benchMillis - spent.postgresMillis)
  }
}

export const make = (database: string, postmaster: number | undefined) => ({
  sample: (): Sample => {
    const usage = process.cpuUsage()
    return {
      at: performance.now(),
      benchMicros: usage.user + usage.system,
      postgresMillis: postgresMillis(database, postmaster),
      machineBusyMillis: machineBusyMillis()
    }
  },
  spent: (before: Sample, after: Sample): Spent => ({
    elapsedMillis: after.at - before.at,
    benchMillis: (after.benchMicros - before.benchMicros) / 1000,
    postgresMillis: after.postgresMillis - before.postgresMillis,
    machineMillis: after.machineBusyMillis - before.machineBusyMillis
  })
})

export type Meter = ReturnType<typeof make>
