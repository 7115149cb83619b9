import { describe, expect, it } from "vitest";
import { isJalaliLeap, toJalali } from "./jalali";

describe("toJalali", () => {
  it.each([
    [2024, 3, 20, 1403, 1, 1], // Nowruz 1403
    [2025, 3, 21, 1404, 1, 1], // Nowruz 1404
    [2024, 3, 19, 1402, 12, 29],
    [2025, 3, 20, 1403, 12, 30], // 1403 is a leap year: Esfand has 30 days
    [1979, 2, 11, 1357, 11, 22],
    [1958, 4, 17, 1337, 1, 28],
    [2000, 1, 1, 1378, 10, 11],
    [2026, 11, 26, 1405, 9, 5],
  ])("maps %i-%i-%i to %i/%i/%i", (gy, gm, gd, jy, jm, jd) => {
    expect(toJalali(gy, gm, gd)).toEqual({ jy, jm, jd });
  });

  it("agrees with the ICU Persian calendar on every day from 1930 to 2060", () => {
    const icu = new Intl.DateTimeFormat("en-US-u-ca-persian-nu-latn", {
      year: "numeric",
      month: "numeric",
      day: "numeric",
      timeZone: "UTC",
    });
    const mismatches: string[] = [];
    for (let t = Date.UTC(1930, 0, 1); t <= Date.UTC(2060, 11, 31); t += 86_400_000) {
      const d = new Date(t);
      const parts = Object.fromEntries(icu.formatToParts(d).map((p) => [p.type, p.value]));
      const expected = { jy: Number.parseInt(parts.year, 10), jm: Number(parts.month), jd: Number(parts.day) };
      const got = toJalali(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
      if (got.jy !== expected.jy || got.jm !== expected.jm || got.jd !== expected.jd) {
        mismatches.push(`${d.toISOString().slice(0, 10)}: ${JSON.stringify(got)} != ${JSON.stringify(expected)}`);
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it("knows the leap years of the 33-year cycle", () => {
    expect([1399, 1403, 1408].map(isJalaliLeap)).toEqual([true, true, true]);
    expect([1400, 1401, 1402, 1404].map(isJalaliLeap)).toEqual([false, false, false, false]);
  });
});
