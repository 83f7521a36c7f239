/**
 * CPU time spent by this process and by the PostgreSQL backends serving the benchmark's database (found in
 * /proc by their process title, which names the database; Linux only, and only when the server runs on this
 * machine). Wall-clock rates move with whatever else runs on a shared machine; CPU time per event says
 * where the work goes (Node vs PostgreSQL) whatever the contention. The load average is kept too.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

const TICKS_PER_SECOND = 100

const backendTicks = (database: string): number => {
  let ticks = 0
  let pids: Array<string>
  try {
    pids = Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return 0
  }
  for (const pid of pids) {
    try {
      const cmdline = Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
      if (!cmdline.startsWith("postgres") || !cmdline.includes(database)) continue
      const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone meanwhile
    }
  }
  return ticks
}

export interface Usage {
  readonly wallSeconds: number
  /** CPU seconds of this Node process. */
  readonly nodeSeconds: number
  /** CPU seconds of the database's backends (0 when they cannot be seen). */
  readonly postgresSeconds: number
  /** 1-minute load average when the phase ended (2 cores: above 2 means waiting for CPU). */
  readonly loadAverage: number
}

export const start = (database: string) => {
  const wall = performance.now()
  const node = process.cpuUsage()
  const pg = backendTicks(database)
  return (): Usage => {
    const used = process.cpuUsage(node)
    return {
      wallSeconds: (performance.now() - wall) / 1_000,
      nodeSeconds: (used.user + used.system) / 1e6,
      postgresSeconds: (backendTicks(database) - pg) / TICKS_PER_SECOND,
      loadAverage: Os.loadavg()[0] ?? 0
    }
  }
}
