/**
 * Who uses a data folder's server: one file per runtime in `<dataDir>.users/`, named `<pid>.<token>`. A
 * file whose process is gone (killed without leaving) no longer counts, so the last live user can tell it
 * is the last one and stop the server.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { processAlive } from "./ServerProcess.ts"

/** `<dataDir>.users/` holds one file per runtime using the server, named `<pid>.<token>`. */
export const usersDir = (dataDir: string) => `${dataDir}.users`

export const register = async (dataDir: string, token: string) => {
  await Fs.mkdir(usersDir(dataDir), { recursive: true })
  await Fs.writeFile(Path.join(usersDir(dataDir), `${process.pid}.${token}`), "")
}

export const deregister = (dataDir: string, token: string) => Fs.rm(Path.join(usersDir(dataDir), `${process.pid}.${token}`), { force: true })

/** Registered users whose process is alive (a killed process leaves its file behind: it no longer counts). */
export const liveUsers = async (dataDir: string) => {
  const names = await Fs.readdir(usersDir(dataDir)).catch(() => [])
  const live: Array<string> = []
  for (const name of names) {
    const pid = Number.parseInt(name, 10)
    if (Number.isInteger(pid) && processAlive(pid)) live.push(name)
    else await Fs.rm(Path.join(usersDir(dataDir), name), { force: true })
  }
  return live
}
