import { describe, expect, it } from "vitest";
import { fileName, toCsv } from "./export";

describe("CSV export", () => {
  it("quotes commas, quotes and line breaks, and leaves empty cells for missing values", () => {
    expect(toCsv(["group", "n", "median"], [["IIA, IIB", 12, null], ['say "hi"', 3.5, undefined], ["a\nb", 0, 1]])).toBe(
      'group,n,median\r\n"IIA, IIB",12,\r\n"say ""hi""",3.5,\r\n"a\nb",0,1\r\n',
    );
  });

  it("keeps a text cell from running as a spreadsheet formula, not a negative number", () => {
    expect(toCsv(["x"], [["=1+1"], [-2], ["@sum"]])).toBe("x\r\n'=1+1\r\n-2\r\n'@sum\r\n");
  });

  it("writes no NaN or Infinity", () => {
    expect(toCsv(["x"], [[Number.NaN], [Number.POSITIVE_INFINITY]])).toBe("x\r\n\r\n\r\n");
  });

  it("names files after the chart, in any script", () => {
    expect(fileName("Overall survival: stage group", "svg")).toBe("overall-survival-stage-group.svg");
    expect(fileName("بافت‌شناسی", "csv")).toMatch(/^بافت.*\.csv$/);
    expect(fileName("???", "png")).toBe("chart.png");
  });
});
