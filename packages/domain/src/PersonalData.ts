/**
 * The personal-data annotation the domain marks its event fields with: the shared kernel's definition
 * (`@verity/kernel`), re-exported so the domain's public `PersonalData` namespace stays where it was.
 */
import { PersonalData as Kernel } from "@verity/kernel"

export type PersonalData = Kernel.PersonalData
export type PersonalDataField = Kernel.PersonalDataField

export const { getPersonalData, personalData, PersonalDataAnnotation, personalDataFields } = Kernel
