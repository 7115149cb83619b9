import { describe, expect, it } from "vitest";
import { formatNumber } from "../format";
import { formatMedian, formatP, pValue } from "./stats";

const en = (v: number | null | undefined, o?: Intl.NumberFormatOptions) => formatNumber(v, "en", o);
const fa = (v: number | null | undefined, o?: Intl.NumberFormatOptions) => formatNumber(v, "fa", o);

describe("p-values", () => {
  it("are written plainly down to 0.001", () => {
    expect(formatP(Math.log10(0.0126), null, en)).toBe("0.0126");
    expect(formatP(null, 0.5, en)).toBe("0.5");
  });

  it("are a power of ten below 0.001, from the logarithm where p itself underflows", () => {
    expect(formatP(-2.901, null, en)).toBe("0.00126");
    expect(formatP(Math.log10(3.2e-12), 3.2e-12, en)).toBe("3.2 × 10^-12");
    expect(formatP(-400.5, 0, en)).toBe("3.2 × 10^-401");
    expect(formatP(-7, 0, en)).toBe("10^-7");
  });

  it("are never a bare 0", () => {
    expect(formatP(null, 0, en)).toBe("< 10^-300");
    expect(formatP(-Infinity, 0, en)).not.toMatch(/^0$/);
    expect(formatP(null, null, en)).toBe("—");
    expect(pValue(-9.99).mantissa).toBeLessThan(10);
  });

  it("use Persian digits for a Persian reader", () => {
    expect(formatP(Math.log10(3.2e-12), null, fa)).toBe("۳٫۲ × ۱۰^-۱۲");
  });
});

describe("medians", () => {
  it("carry their interval, an open end as not reached", () => {
    expect(formatMedian(12.34, 9.1, 15, en, "NR")).toBe("12.3 (9.1–15.0)");
    expect(formatMedian(12.34, 9.1, null, en, "NR")).toBe("12.3 (9.1–NR)");
    expect(formatMedian(null, null, null, en, "NR")).toBe("NR");
  });
});
