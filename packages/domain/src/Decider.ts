/**
 * The Decider, as the domain's aggregates use it: the shared kernel's definition (`@verity/kernel`),
 * re-exported so the domain's public `Decider` namespace stays where its users import it.
 */
import { Decider as Kernel } from "@verity/kernel"

export type Decider<Command, Event, State, Rejection> = Kernel.Decider<Command, Event, State, Rejection>

export const { decideOn, fold, step } = Kernel
