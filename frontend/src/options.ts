export const SEXES = ["female", "male", "other", "unknown"];
export const HISTOLOGIES = ["squamous_cell_carcinoma", "adenocarcinoma", "other"];
export const LOCATIONS = ["cervical", "upper", "middle", "lower", "egj"];
export const VITAL = ["alive", "dead", "unknown"];
export const ORIGINS = ["real", "synthetic"];
export const STAGE_GROUPS = ["0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB"];
export const T_CODES = ["TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"];
export const N_CODES = ["NX", "N0", "N1", "N2", "N3"];
export const M_CODES = ["M0", "M1"];
export const GRADES = ["GX", "G1", "G2", "G3"];

/** ICD-O-3 morphology for a histology, and topography for a location. */
export const MORPHOLOGY: Record<string, string> = {
  squamous_cell_carcinoma: "8070/3",
  adenocarcinoma: "8140/3",
  other: "8000/3",
};
export const TOPOGRAPHY: Record<string, string> = {
  cervical: "C15.0",
  upper: "C15.3",
  middle: "C15.4",
  lower: "C15.5",
  egj: "C16.0",
};

export function label(code: string | null | undefined): string {
  return code ? code.replace(/_/g, " ") : "—";
}
