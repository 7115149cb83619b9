import { fireEvent, render, screen, within } from "@testing-library/react";
import { createRef } from "react";
import { describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { BarChart, ForestPlot } from "./Charts";
import type { HazardRow } from "./Charts";

const num = (el: Element, name: string) => Number(el.getAttribute(name));

/** The drawn bar of a row (the row's filled rectangle, not its hit area). */
const barOf = (row: HTMLElement) => row.querySelector("rect.visx-bar") as SVGRectElement;

/** The words a row shows (each text's own words, not its hover title). */
const shownText = (row: HTMLElement) => [...row.querySelectorAll("text")].map((t) => t.lastChild?.textContent);

describe("a facet's bar chart", () => {
  const bars = [
    { value: "adenocarcinoma", n: 146 },
    { value: "squamous_cell_carcinoma", n: 1337 },
    { value: null, n: 17 },
  ];
  const draw = (selected: string[], onToggle = vi.fn(), lang: "en" | "fa" = "en") => {
    const ref = createRef<SVGSVGElement>();
    render(
      <I18nProvider initialLang={lang}>
        <BarChart title="Histology" bars={bars} selected={selected} onToggle={onToggle} svgRef={ref} name={(v) => v ?? "unknown"} />
      </I18nProvider>,
    );
    return { onToggle, ref };
  };

  it("draws one bar a value, labelled with its value and count, as long as its count", () => {
    const { ref } = draw([]);
    const chart = screen.getByRole("group", { name: "Histology" });
    expect(ref.current).toBe(chart);
    expect([...chart.querySelectorAll("[data-count]")].map((t) => t.textContent)).toEqual(["146", "1,337", "17"]);
    const adeno = screen.getByRole("button", { name: /^adenocarcinoma/ });
    const squamous = screen.getByRole("button", { name: /^squamous/ });
    const unknown = screen.getByRole("img", { name: /^unknown/ });
    expect(shownText(adeno)).toEqual(["adenocarcinoma", "146"]);
    // a long value is shortened on the chart and named in full on hover
    expect(shownText(squamous)).toEqual(["squamous_cell_carcin…", "1,337"]);
    expect(squamous.querySelector("title")).toHaveTextContent("squamous_cell_carcinoma");
    // the largest count fills the bar area; the others are in proportion
    const [a, s, u] = [adeno, squamous, unknown].map((row) => num(barOf(row), "width"));
    expect(s).toBeCloseTo(162);
    expect(a).toBeCloseTo((162 * 146) / 1337);
    expect(u).toBeCloseTo((162 * 17) / 1337);
    // rows one below another, in the order given
    const ys = [adeno, squamous, unknown].map((row) => Number(/translate\(0,\s*([\d.]+)\)/.exec(row.getAttribute("transform") ?? "")?.[1]));
    expect(ys).toEqual([4, 26, 48]);
    // each count is written just after its bar's end
    const count = squamous.querySelector("[data-count]") as Element;
    expect(num(count, "x")).toBeGreaterThan(num(barOf(squamous), "x") + s);
  });

  it("makes each known value a toggle that says whether it is selected, and highlights it", () => {
    draw(["adenocarcinoma"]);
    const on = screen.getByRole("button", { name: "adenocarcinoma: 146" });
    const off = screen.getByRole("button", { name: "squamous_cell_carcinoma: 1,337" });
    expect(on).toHaveAttribute("aria-pressed", "true");
    expect(off).toHaveAttribute("aria-pressed", "false");
    // the selected bar stands out; the others are dimmed
    expect(barOf(on).getAttribute("fill")).not.toBe(barOf(off).getAttribute("fill"));
    expect(barOf(on)).toHaveAttribute("stroke", "#062b4f");
    expect(barOf(off)).toHaveAttribute("stroke", "none");
    // patients without a value cannot be selected by it
    expect(screen.queryByRole("button", { name: /^unknown/ })).toBeNull();
    expect(screen.getByRole("img", { name: "unknown: 17" })).toBeInTheDocument();
  });

  it("draws every bar alike while nothing is selected", () => {
    draw([]);
    const fills = screen.getAllByRole("button").map((row) => barOf(row).getAttribute("fill"));
    expect(new Set(fills).size).toBe(1);
  });

  it("toggles a value on a click and, from the keyboard, on Enter or Space", () => {
    const { onToggle } = draw([]);
    const squamous = screen.getByRole("button", { name: /^squamous/ });
    // the bars are in the tab order
    expect(screen.getAllByRole("button").map((b) => b.getAttribute("tabindex"))).toEqual(["0", "0"]);
    squamous.focus();
    expect(squamous).toHaveFocus();
    fireEvent.click(screen.getByRole("button", { name: /^adenocarcinoma/ }));
    fireEvent.keyDown(squamous, { key: "Enter" });
    fireEvent.keyDown(squamous, { key: " " });
    fireEvent.keyDown(squamous, { key: "a" });
    fireEvent.click(screen.getByRole("img", { name: /^unknown/ }));
    expect(onToggle.mock.calls).toEqual([["adenocarcinoma"], ["squamous_cell_carcinoma"], ["squamous_cell_carcinoma"]]);
  });

  it("writes counts in Persian digits for a Persian reader", () => {
    draw([], vi.fn(), "fa");
    const adeno = screen.getByRole("button", { name: "adenocarcinoma: ۱۴۶" });
    expect(adeno.querySelector("[data-count]")).toHaveTextContent("۱۴۶");
  });

  it("draws no buttons where the chart cannot be clicked", () => {
    render(
      <I18nProvider initialLang="en">
        <BarChart title="Age" bars={[{ value: "40", n: 3 }]} selected={[]} svgRef={createRef()} name={() => "40–49"} />
      </I18nProvider>,
    );
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.getByRole("img", { name: "40–49: 3" })).toBeInTheDocument();
  });
});

describe("the forest plot", () => {
  const rows: HazardRow[] = [
    { label: "IIA", n: 15, hazard_ratio: 1, lower: null, upper: null, reference: true },
    { label: "IIIB", n: 39, hazard_ratio: 2.5, lower: 1.2, upper: 5.1, reference: false },
    { label: "I", n: 20, hazard_ratio: 0.4, lower: 0.2, upper: 0.8, reference: false },
    { label: "0", n: 2, hazard_ratio: null, lower: null, upper: null, reference: false },
  ];
  const draw = (lang: "en" | "fa" = "en") => {
    const ref = createRef<SVGSVGElement>();
    render(
      <I18nProvider initialLang={lang}>
        <ForestPlot title="HR" svgRef={ref} rows={rows} />
      </I18nProvider>,
    );
    return ref;
  };
  /** The x of the axis tick labelled `label`. */
  const tick = (label: string) => {
    const text = [...document.querySelectorAll(".visx-axis-tick text")].find((t) => t.textContent === label);
    if (!text) throw new Error(`no tick ${label}`);
    return num(text, "x");
  };

  it("lists each group with its size and its ratio, the reference and the groups that cannot be estimated", () => {
    const ref = draw();
    expect(ref.current).toBe(screen.getByRole("img", { name: "HR" }));
    const shown = screen.getAllByTestId("forest-row").map((r) => r.textContent);
    expect(shown).toEqual(["IIA (15)reference", "IIIB (39)2.50 (1.20–5.10)", "I (20)0.40 (0.20–0.80)", "0 (2)not estimable"]);
    const [reference, , , none] = screen.getAllByTestId("forest-row");
    expect(within(reference).getByTestId("forest-reference")).toBeInTheDocument();
    expect(within(reference).queryByTestId("forest-interval")).toBeNull();
    expect(within(none).queryByTestId("forest-estimate")).toBeNull();
    expect(within(none).queryByTestId("forest-interval")).toBeNull();
    expect(screen.getByText("Hazard ratio")).toBeInTheDocument();
  });

  it("draws ratios on a log axis with a dashed line at a ratio of one", () => {
    draw();
    // ticks at the usual ratios, equally spaced where each doubles
    expect([...document.querySelectorAll(".visx-axis-tick text")].map((t) => t.textContent)).toEqual(["0.25", "0.5", "1", "2", "4"]);
    expect(tick("2") - tick("1")).toBeCloseTo(tick("1") - tick("0.5"));
    expect(tick("4") - tick("2")).toBeCloseTo(tick("2") - tick("1"));
    const line = screen.getByTestId("forest-null");
    expect(line).toHaveAttribute("stroke-dasharray", "4 3");
    expect(num(line, "x1")).toBeCloseTo(tick("1"));
    expect(num(line, "x2")).toBeCloseTo(tick("1"));
    // the reference's mark sits on it
    const mark = screen.getByTestId("forest-reference");
    expect(num(mark, "x") + num(mark, "width") / 2).toBeCloseTo(tick("1"));
  });

  it("draws each estimate inside its whisker, to the right of one for a higher hazard and to the left for a lower", () => {
    draw();
    const one = tick("1");
    const [, higher, lower] = screen.getAllByTestId("forest-row");
    for (const [row, side] of [
      [higher, 1],
      [lower, -1],
    ] as const) {
      const whisker = within(row).getByTestId("forest-interval");
      const estimate = within(row).getByTestId("forest-estimate");
      const centre = num(estimate, "x") + num(estimate, "width") / 2;
      expect(num(whisker, "x1")).toBeLessThan(centre);
      expect(num(whisker, "x2")).toBeGreaterThan(centre);
      expect(Math.sign(centre - one)).toBe(side);
    }
    // 2.5 with 1.2 to 5.1 on the log axis (log 2.5 is a third of the way from 2 to 4)
    const whisker = within(higher).getByTestId("forest-interval");
    const estimate = within(higher).getByTestId("forest-estimate");
    expect(num(estimate, "x") + 4).toBeCloseTo(tick("2") + (Math.log2(2.5) - 1) * (tick("4") - tick("2")));
    expect(num(whisker, "x1")).toBeGreaterThan(one);
    expect(num(whisker, "x1")).toBeLessThan(tick("2"));
    expect(num(whisker, "x2")).toBeGreaterThan(tick("4"));
  });

  it("writes ratios and ticks in Persian digits for a Persian reader", () => {
    draw("fa");
    expect(screen.getAllByTestId("forest-row")[1]).toHaveTextContent("۲٫۵۰");
    expect(tick("۱")).toBeCloseTo(num(screen.getByTestId("forest-null"), "x1"));
  });
});
