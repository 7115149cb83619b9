// The cohort explorer's state (filters of cohort A and, when comparing, cohort B; the survival
// choices) and its address: every choice lives in the URL, so a view can be shared or bookmarked.

export const FACETS = [
  "histology",
  "stage_group",
  "sex",
  "location",
  "treatment",
  "biomarker",
  "origin",
  "vital_status",
] as const;
export type Facet = (typeof FACETS)[number];

/** Facets a de-identified view does not show (the API refuses to select or group on them). */
export const IDENTIFIED_ONLY: readonly Facet[] = ["origin"];

export const ENDPOINTS = ["os", "pfs", "dfs", "css"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export const SCHEMES = ["clinical", "pathological", "post_neoadjuvant"] as const;
export type Scheme = (typeof SCHEMES)[number];
/** What the survival curves may be grouped by (the API's `group`). */
export const GROUPINGS = ["", "stage_group", "histology", "sex", "location", "origin"] as const;
export type Grouping = (typeof GROUPINGS)[number];

export interface Filters {
  values: Partial<Record<Facet, string[]>>;
  min_age: number | null;
  max_age: number | null;
}

export interface CohortView {
  a: Filters;
  /** Cohort B, when comparing two cohorts. */
  b: Filters | null;
  scheme: Scheme;
  endpoint: Endpoint;
  group: Grouping;
  /** The group hazard ratios compare with ("" = the API's default, the first group). */
  reference: string;
}

export const EMPTY_FILTERS: Filters = { values: {}, min_age: null, max_age: null };

export const DEFAULT_VIEW: CohortView = {
  a: EMPTY_FILTERS,
  b: null,
  scheme: "clinical",
  endpoint: "os",
  group: "stage_group",
  reference: "",
};

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function age(value: string | null): number | null {
  if (value === null || !/^\d{1,3}$/.test(value)) return null;
  return Number(value);
}

function readFilters(params: URLSearchParams, prefix: string): Filters {
  const values: Filters["values"] = {};
  for (const facet of FACETS) {
    const raw = params.get(prefix + facet);
    if (!raw) continue;
    const list = [...new Set(raw.split(",").map((v) => v.trim()).filter(Boolean))];
    if (list.length) values[facet] = list;
  }
  return { values, min_age: age(params.get(`${prefix}min_age`)), max_age: age(params.get(`${prefix}max_age`)) };
}

function writeFilters(params: URLSearchParams, prefix: string, filters: Filters): void {
  for (const facet of FACETS) {
    const list = filters.values[facet];
    if (list?.length) params.set(prefix + facet, list.join(","));
  }
  if (filters.min_age !== null) params.set(`${prefix}min_age`, String(filters.min_age));
  if (filters.max_age !== null) params.set(`${prefix}max_age`, String(filters.max_age));
}

/** The view a URL query string (with or without "?") describes; unknown or bad values fall back
 * to the defaults. */
export function parseView(search: string): CohortView {
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  return {
    a: readFilters(params, ""),
    b: params.get("compare") === "1" ? readFilters(params, "b.") : null,
    scheme: oneOf(params.get("scheme"), SCHEMES, DEFAULT_VIEW.scheme),
    endpoint: oneOf(params.get("endpoint"), ENDPOINTS, DEFAULT_VIEW.endpoint),
    group: params.has("group") ? oneOf(params.get("group"), GROUPINGS, DEFAULT_VIEW.group) : DEFAULT_VIEW.group,
    reference: params.get("ref") ?? "",
  };
}

/** The URL query string (with "?", or "" for the default view) of a view: `parseView` reads it back. */
export function viewToSearch(view: CohortView): string {
  const params = new URLSearchParams();
  writeFilters(params, "", view.a);
  if (view.b) {
    params.set("compare", "1");
    writeFilters(params, "b.", view.b);
  }
  if (view.scheme !== DEFAULT_VIEW.scheme) params.set("scheme", view.scheme);
  if (view.endpoint !== DEFAULT_VIEW.endpoint) params.set("endpoint", view.endpoint);
  if (view.group !== DEFAULT_VIEW.group) params.set("group", view.group);
  if (view.reference) params.set("ref", view.reference);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** `filters` with `value` of `facet` added, or removed when it was selected. */
export function toggleValue(filters: Filters, facet: Facet, value: string): Filters {
  const current = filters.values[facet] ?? [];
  const next = current.includes(value) ? current.filter((v) => v !== value) : [...current, value];
  const values = { ...filters.values };
  if (next.length) values[facet] = next;
  else delete values[facet];
  return { ...filters, values };
}

/** `filters` without any selection on `facet`. */
export function clearFacet(filters: Filters, facet: Facet): Filters {
  const values = { ...filters.values };
  delete values[facet];
  return { ...filters, values };
}

export function isEmpty(filters: Filters): boolean {
  return Object.keys(filters.values).length === 0 && filters.min_age === null && filters.max_age === null;
}

/** The API query parameters of `filters` (comma-separated values: any of them within a field, all
 * fields together), with the staging scheme the stage groups are read in. */
export function apiParams(filters: Filters, scheme?: Scheme | null, except?: Facet): URLSearchParams {
  const params = new URLSearchParams();
  for (const facet of FACETS) {
    const list = filters.values[facet];
    if (facet !== except && list?.length) params.set(facet, list.join(","));
  }
  if (filters.min_age !== null) params.set("min_age", String(filters.min_age));
  if (filters.max_age !== null) params.set("max_age", String(filters.max_age));
  if (scheme) params.set("scheme", scheme);
  return params;
}

/** A path with the filters' query appended (and `extra` parameters first). */
export function withFilters(
  path: string,
  filters: Filters,
  extra: Record<string, string | number | null | undefined> = {},
  scheme?: Scheme | null,
  except?: Facet,
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(extra)) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  for (const [key, value] of apiParams(filters, scheme, except)) params.set(key, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface SavedFilters {
  [field: string]: string[] | number | string | null;
}

/** The body of a saved cohort's filters (POST /api/v1/cohorts). */
export function toSaved(filters: Filters, scheme: Scheme | null): SavedFilters {
  const body: SavedFilters = {};
  for (const facet of FACETS) {
    const list = filters.values[facet];
    if (list?.length) body[facet] = [...list];
  }
  if (filters.min_age !== null) body.min_age = filters.min_age;
  if (filters.max_age !== null) body.max_age = filters.max_age;
  body.scheme = scheme;
  return body;
}

/** A saved cohort's filters as the explorer's (fields it does not know are left out). */
export function fromSaved(saved: SavedFilters): { filters: Filters; scheme: Scheme | null } {
  const values: Filters["values"] = {};
  for (const facet of FACETS) {
    const raw = saved[facet];
    const list = Array.isArray(raw) ? raw.map(String) : typeof raw === "string" ? [raw] : [];
    if (list.length) values[facet] = list;
  }
  const num = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : null);
  const scheme = typeof saved.scheme === "string" ? oneOf(saved.scheme, SCHEMES, "clinical") : null;
  return { filters: { values, min_age: num(saved.min_age), max_age: num(saved.max_age) }, scheme };
}
