import type { MessageKey } from "./messages";

export interface NavItem {
  to: string;
  label: MessageKey;
  /** Shown when the user holds any of these permissions. */
  anyOf: string[];
}

export const NAV: NavItem[] = [
  { to: "/patients", label: "navPatients", anyOf: ["patients.read"] },
  { to: "/patients/new", label: "navNewPatient", anyOf: ["patients.write"] },
  { to: "/cohort", label: "navCohort", anyOf: ["patients.read"] },
  { to: "/generation", label: "navGeneration", anyOf: ["generation.jobs.manage", "generation.jobs.read"] },
  { to: "/collection", label: "navCollection", anyOf: ["collection.jobs.manage", "collection.jobs.read"] },
  { to: "/training", label: "navTraining", anyOf: ["training.jobs.read", "models.read"] },
  { to: "/audit", label: "navAudit", anyOf: ["audit.read"] },
];

export function allowedNav(permissions: string[]): NavItem[] {
  return NAV.filter((item) => item.anyOf.some((p) => permissions.includes(p)));
}
