/**
 * Vitest global setup for suites that need PostgreSQL. Uses the targets handed down by `withDatabases`
 * (one shared server for the whole test command) when present; otherwise starts its own embedded
 * PostgreSQL and adds `DATABASE_URL` when set. A target that cannot be reached fails the run.
 */
import type { TestProject } from "vitest/node"
import { parseTargets, resolveTargets, TARGETS_ENV } from "./Targets.ts"

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const handed = process.env[TARGETS_ENV]
  if (handed !== undefined && handed !== "") {
    project.provide("verityDatabases", parseTargets(handed))
    return async () => {}
  }
  const { targets, close } = await resolveTargets()
  project.provide("verityDatabases", targets)
  return close
}
