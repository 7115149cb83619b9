// The API's JSON shapes, as far as the dashboard reads them.

export interface Me {
  id: string;
  username: string;
  roles: string[];
  permissions: string[];
  source: string;
  /** The password is one-time: only its change (and logout) is allowed until it is changed. */
  must_change_password?: boolean;
}

export interface PatientSummary {
  id?: string;
  research_id?: string;
  given_name?: string | null;
  family_name?: string | null;
  mrn?: string | null;
  sex: string;
  birth_year?: number;
  origin?: string;
  source: string | null;
  histology: string | null;
  location: string | null;
  stage_group: string | null;
  diagnosis_date: string | null;
  vital_status: string | null;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | number | null;
}

export interface Condition {
  diagnosis_date: string;
  histology: string;
  morphology_code: string;
  topography_code: string;
  location: string;
  siewert: string | null;
  grade: string;
  tumour_length_cm: number | null;
  lymphovascular_invasion?: boolean | null;
  invades_airway_or_great_vessels?: boolean | null;
}

/** Fitness for surgery; `assessed_by` and `note` are absent for de-identified viewers. */
export interface SurgicalFitness {
  fit: boolean;
  assessed_by?: string;
  assessed_on: string;
  note?: string | null;
}

export interface Comorbidity {
  system: string;
  code: string;
  display: string;
  category?: string | null;
  recorded_on?: string | null;
}

export interface Staging {
  kind?: string;
  t: string;
  n: string;
  m: string;
  stage_group: string;
  assessed_on: string;
  grade: string | null;
  location: string | null;
  method?: string;
}

export interface Treatment {
  kind?: string;
  start_date: string;
  end_date: string | null;
  intent: string | null;
  procedure: string | null;
  regimen: string | null;
  agents: string[];
  margin: string | null;
  dose_gy: number | null;
  pathologic_complete_response: boolean | null;
}

export interface Biomarker {
  kind: string;
  value: string;
  measured_on: string;
}

export interface Observation {
  code: string;
  value: number;
  observed_on: string;
  unit: string | null;
}

export interface Outcome {
  vital_status: string;
  last_follow_up: string;
  death_date: string | null;
  cause_of_death: string | null;
  recurrence_date: string | null;
  recurrence_site: string | null;
  progression_date?: string | null;
}

/** A record as read back; identifier fields are absent for de-identified viewers. */
export interface PatientRecord {
  id?: string;
  research_id?: string;
  sex: string;
  birth_date?: string;
  birth_year?: number;
  given_name?: string | null;
  family_name?: string | null;
  mrn?: string | null;
  origin?: string;
  source: string | null;
  conditions: Condition[];
  staging: Staging[];
  biomarkers: Biomarker[];
  treatments: Treatment[];
  observations: Observation[];
  outcome: Outcome | null;
  version?: number;
  fitness_for_surgery?: SurgicalFitness | null;
  comorbidities?: Comorbidity[];
}

export interface StageResult {
  stage_group: string;
  kind: string;
  scheme: string;
  table: string;
  row: number;
  rule: string;
  notes: string[];
  source: string;
}

export interface Citation {
  id: string;
  title: string;
  reference: string;
  url: string | null;
}

export interface RecommendationOption {
  rule_id: string;
  rank: number;
  title: string;
  recommendation: string;
  intent: string;
  strength: string;
  evidence: Citation[];
  evidence_summary: string;
  because: string[];
}

export interface MissingFact {
  fact: string;
  why: string;
  rules: string[];
}

export interface Horizon {
  years: number;
  survival: number | null;
  lower: number | null;
  upper: number | null;
}

export interface RiskAnswer {
  available: boolean;
  message: string;
  model: string | null;
  version: number | null;
  horizons: Horizon[];
  missing: string[];
  interval: string | null;
}

export interface Decision {
  patient_id: string | null;
  stage: StageResult | null;
  stage_problem: string | null;
  recommendations: {
    options: RecommendationOption[];
    more_data_needed: MissingFact[];
    rule_set: string;
    /** Why no rule of the set applies (null when one does or facts are missing). */
    no_rule_applies?: string | null;
  };
  risk: RiskAnswer;
}

export interface Job {
  id: string;
  module: string;
  kind: string;
  status: string;
  progress: number;
  counts: Record<string, number>;
  error: string | null;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  owner: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface Profile {
  name: string;
  title: string;
  version: string;
  description: string;
  builtin: boolean;
}

export interface DatasetFile {
  name: string;
  table: string;
  format: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export type Verdict = "passed" | "failed" | "insufficient";

export interface FidelityTarget {
  name: string;
  target: number;
  achieved: number | null;
  tolerance: number;
  ok: boolean;
  n: number;
  source: string;
  /** Absent or null in reports made before verdicts: read `ok`. */
  verdict?: Verdict | null;
  lower?: number | null;
  /** null with an achieved value: a median survival whose upper bound is not reached. */
  upper?: number | null;
  confidence?: number;
}

export interface FidelityReport {
  all_ok: boolean;
  patients?: number;
  failed?: number;
  insufficient?: number;
  targets: FidelityTarget[];
  km_svg?: string;
}

export interface Dataset {
  id: string;
  profile: string;
  n: number;
  seed: number;
  files: DatasetFile[];
  fidelity?: FidelityReport;
  /** Set on a dataset generated from a profile fitted to real patients. */
  derived_from?: { origin: string; source: string | null; profile: string; epsilon: number | null } | null;
  release?: Release | null;
}

/** A profile fitted to real patients, as GET /api/v1/generation/fitted-profiles lists it. */
export interface FittedProfile {
  name: string;
  source: string | null;
  cohort_id?: string | null;
  epsilon: number | null;
  patients: number | null;
  prior: string;
  fitted_at: string;
  fitted_by: string | null;
}

export interface PrivacyBudget {
  source: string;
  total: number;
  spent: number;
  remaining: number;
  fits: { profile: string; epsilon: number; at: string }[];
}

/** The privacy and utility report of a dataset derived from real patients. */
export interface PrivacyReport {
  train: number;
  holdout: number;
  synthetic: number;
  dcr_synthetic: number;
  dcr_holdout: number;
  closer_to_train: number;
  nndr: number;
  mia_advantage: number;
  /** Chance that a twin with no membership signal shows this advantage (absent in older reports). */
  mia_p_value?: number;
  identical: number;
  identical_share: number;
  aia_attribute: string;
  aia_accuracy: number;
  aia_members_accuracy: number;
  aia_baseline: number;
  aia_advantage: number;
  aia_members_gain: number;
  marginal_fidelity: Record<string, number>;
  km_distance: Record<string, number>;
  trtr_c_index: number;
  tstr_c_index: number;
  tstr_ratio: number;
}

export interface ReleaseThresholds {
  max_mia_advantage: number;
  max_closer_to_train: number;
  max_identical_share: number;
  min_dcr_ratio: number;
  max_aia_members_gain: number;
  max_aia_advantage: number;
  min_tstr_ratio: number;
}

/** A derived dataset's release gate: held until its report passes or a steward decides. */
export interface Release {
  status: "held" | "released";
  report?: PrivacyReport;
  thresholds?: ReleaseThresholds;
  failures?: string[];
  measured_at?: string;
  decision?: { decision: string; reason: string; by: string | null; at: string };
}

export function isTerminal(status: string): boolean {
  return ["succeeded", "failed", "cancelled", "dead"].includes(status);
}
