/** Vitest global setup: the PostgreSQL targets of the run (embedded PostgreSQL 18, plus `DATABASE_URL`). */
export { default } from "@verity/postgres/testing/globalSetup"
