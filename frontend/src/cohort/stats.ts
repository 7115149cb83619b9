// How survival statistics are written for a reader.

export interface PValue {
  /** "plain": `text` is the p-value; "power": p = mantissa × 10^exponent. */
  kind: "plain" | "power" | "none";
  mantissa: number;
  exponent: number;
  value: number;
  /** Only an upper bound is known (p underflowed and no logarithm came with it). */
  bound: boolean;
}

/** A p-value from its base-10 logarithm (the API's `p_value_log10`, exact where p underflows) or
 * from p itself: at or above 0.001 as a number, below as a power of ten; never 0. */
export function pValue(log10: number | null | undefined, p?: number | null): PValue {
  let lg = log10;
  if ((lg === null || lg === undefined || Number.isNaN(lg)) && p !== null && p !== undefined && p > 0) lg = Math.log10(p);
  if (lg === null || lg === undefined || Number.isNaN(lg)) {
    if (p === 0) return { kind: "power", mantissa: 1, exponent: -300, value: 0, bound: true };
    return { kind: "none", mantissa: 0, exponent: 0, value: Number.NaN, bound: false };
  }
  if (lg === -Infinity) return { kind: "power", mantissa: 1, exponent: -300, value: 0, bound: true };
  const value = 10 ** Math.min(0, lg);
  if (lg >= -3) return { kind: "plain", mantissa: value, exponent: 0, value, bound: false };
  let exponent = Math.floor(lg);
  let mantissa = Math.round(10 ** (lg - exponent) * 10) / 10;
  if (mantissa >= 10) {
    mantissa = 1;
    exponent += 1;
  }
  return { kind: "power", mantissa, exponent, value, bound: false };
}

/** The p-value as text: "0.0126", "3.2 × 10^-12", "—"; `num` writes numbers in the reader's digits. */
export function formatP(
  log10: number | null | undefined,
  p: number | null | undefined,
  num: (v: number, o?: Intl.NumberFormatOptions) => string,
): string {
  const parts = pValue(log10, p);
  if (parts.kind === "none") return "—";
  if (parts.kind === "plain") return num(parts.value, { maximumSignificantDigits: 3 });
  const mantissa = parts.mantissa === 1 ? "" : `${num(parts.mantissa, { maximumFractionDigits: 1 })} × `;
  const prefix = parts.bound ? "< " : "";
  const exponent = `${parts.exponent < 0 ? "-" : ""}${num(Math.abs(parts.exponent), { useGrouping: false })}`;
  return `${prefix}${mantissa}${num(10)}^${exponent}`;
}

/** A median with its interval: "12.3 (9.1–15.0)", an open end as "–NR" (not reached). */
export function formatMedian(
  median: number | null | undefined,
  lower: number | null | undefined,
  upper: number | null | undefined,
  num: (v: number | null | undefined, o?: Intl.NumberFormatOptions) => string,
  notReached: string,
): string {
  const one = { minimumFractionDigits: 1, maximumFractionDigits: 1 };
  const text = (v: number | null | undefined) => (v === null || v === undefined ? notReached : num(v, one));
  if (median === null || median === undefined) return `${notReached}${lower != null ? ` (${text(lower)}–${notReached})` : ""}`;
  return `${text(median)} (${text(lower)}–${text(upper)})`;
}
