import { describe, expect, it } from "vitest";
import { formatDate, formatNumber, persianDigits } from "./format";

describe("formatting", () => {
  it("writes Persian digits", () => {
    expect(persianDigits("IVB 2024-03-05")).toBe("IVB ۲۰۲۴-۰۳-۰۵");
  });

  it("shows a date in the Jalali calendar with Persian digits", () => {
    expect(formatDate("2024-03-20", "fa", "jalali")).toBe("۱۴۰۳/۰۱/۰۱");
  });

  it("keeps Gregorian dates and Western digits in English", () => {
    expect(formatDate("2024-03-20T10:15:00Z", "en", "gregorian")).toBe("2024-03-20 10:15");
  });

  it("formats numbers in Persian", () => {
    expect(formatNumber(1234, "fa")).toBe("۱٬۲۳۴");
  });
});
