/** The pages a role may open: a path pattern (wouter syntax) and the permissions, any of which
 * opens it. A page the user may not open says which permission it needs. */
export interface RouteRule {
  pattern: string;
  anyOf: string[];
}

export const ROUTES: RouteRule[] = [
  { pattern: "/patients/new", anyOf: ["patients.write"] },
  { pattern: "/patients", anyOf: ["patients.read"] },
  { pattern: "/patients/:id", anyOf: ["patients.read"] },
  { pattern: "/cohort", anyOf: ["patients.read"] },
  { pattern: "/generation", anyOf: ["generation.jobs.manage", "generation.jobs.read", "datasets.read"] },
  { pattern: "/generation/jobs/:id", anyOf: ["generation.jobs.manage", "generation.jobs.read"] },
  { pattern: "/generation/fitted", anyOf: ["generation.jobs.read"] },
  { pattern: "/generation/fitted/:name", anyOf: ["generation.jobs.read"] },
  { pattern: "/datasets/:id", anyOf: ["datasets.read"] },
  { pattern: "/collection", anyOf: ["collection.jobs.manage", "collection.jobs.read"] },
  { pattern: "/collection/jobs/:id", anyOf: ["collection.jobs.manage", "collection.jobs.read"] },
  { pattern: "/training", anyOf: ["training.jobs.read", "models.read"] },
  { pattern: "/training/runs/:id", anyOf: ["training.jobs.read"] },
  { pattern: "/training/compare", anyOf: ["training.jobs.read"] },
  { pattern: "/models", anyOf: ["models.read"] },
  { pattern: "/models/:name", anyOf: ["models.read"] },
  { pattern: "/models/:name/versions/:version", anyOf: ["models.read"] },
  { pattern: "/audit", anyOf: ["audit.read"] },
];

/** The rule of a path (its first matching pattern), or undefined for an unknown page. */
export function ruleOf(path: string): RouteRule | undefined {
  return ROUTES.find((r) => {
    const re = new RegExp(`^${r.pattern.replace(/:[a-z]+/g, "[^/]+")}/?$`);
    return re.test(path);
  });
}
