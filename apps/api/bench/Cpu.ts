/**
 * Where the CPU went during a measurement, from /proc: the API process, every `postgres` process on this
 * machine (on a shared server that includes other databases' work: run the bench on a quiet machine), and
 * this process (the load generator and, for the raw run, the in-process store). Percent of one core.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

const TICK_MILLIS = 10

const ticksOf = (pid: string | number): number => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

const postgresTicks = (): number => {
  let total = 0
  for (const pid of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (Fs.readFileSync(`/proc/${pid}/comm`, "latin1").trim() === "postgres") total += ticksOf(pid)
    } catch {
      // gone
    }
  }
  return total
}

const busyTicks = () => Os.cpus().reduce((sum, cpu) => sum + cpu.times.user + cpu.times.sys + cpu.times.irq + cpu.times.nice, 0)
const totalTicks = () => Os.cpus().reduce((sum, cpu) => sum + cpu.times.user + cpu.times.sys + cpu.times.irq + cpu.times.nice + cpu.times.idle, 0)

export interface Usage {
  readonly api: number
  readonly postgres: number
  readonly bench: number
  readonly idle: number
}

export const start = (apiPid: number) => {
  const t0 = performance.now()
  const api0 = ticksOf(apiPid)
  const pg0 = postgresTicks()
  const me0 = process.cpuUsage()
  const busy0 = busyTicks()
  const total0 = totalTicks()
  return {
    stop: (): Usage => {
      const elapsed = performance.now() - t0
      const me = process.cpuUsage(me0)
      const busy = busyTicks() - busy0
      const total = totalTicks() - total0
      return {
        api: ((ticksOf(apiPid) - api0) * TICK_MILLIS / elapsed) * 100,
        postgres: ((postgresTicks() - pg0) * TICK_MILLIS / elapsed) * 100,
        bench: ((me.user + me.system) / 1000 / elapsed) * 100,
        idle: total === 0 ? 0 : ((total - busy) / total) * Os.cpus().length * 100
      }
    }
  }
}
