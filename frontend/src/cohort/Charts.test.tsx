import { fireEvent, render, screen } from "@testing-library/react";
import { createRef } from "react";
import { describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { BarChart, ForestPlot } from "./Charts";

describe("a facet's bar chart", () => {
  const bars = [
    { value: "adenocarcinoma", n: 146 },
    { value: "squamous_cell_carcinoma", n: 1337 },
    { value: null, n: 17 },
  ];
  const draw = (selected: string[], onToggle = vi.fn(), lang: "en" | "fa" = "en") => {
    render(
      <I18nProvider initialLang={lang}>
        <BarChart title="Histology" bars={bars} selected={selected} onToggle={onToggle} svgRef={createRef()} name={(v) => v ?? "unknown"} />
      </I18nProvider>,
    );
    return onToggle;
  };

  it("makes each known value a toggle that says whether it is selected", () => {
    draw(["adenocarcinoma"]);
    expect(screen.getByRole("button", { name: "adenocarcinoma: 146" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByRole("button", { name: "squamous_cell_carcinoma: 1,337" })).toHaveAttribute("aria-pressed", "false");
    // patients without a value cannot be selected by it
    expect(screen.queryByRole("button", { name: /^unknown/ })).toBeNull();
    expect(screen.getByRole("img", { name: "unknown: 17" })).toBeInTheDocument();
  });

  it("toggles a value on a click and on Enter or Space", () => {
    const onToggle = draw([]);
    fireEvent.click(screen.getByRole("button", { name: /^adenocarcinoma/ }));
    fireEvent.keyDown(screen.getByRole("button", { name: /^squamous/ }), { key: "Enter" });
    fireEvent.keyDown(screen.getByRole("button", { name: /^squamous/ }), { key: " " });
    fireEvent.keyDown(screen.getByRole("button", { name: /^squamous/ }), { key: "a" });
    expect(onToggle.mock.calls).toEqual([["adenocarcinoma"], ["squamous_cell_carcinoma"], ["squamous_cell_carcinoma"]]);
  });

  it("writes counts in Persian digits for a Persian reader", () => {
    draw([], vi.fn(), "fa");
    expect(screen.getByRole("button", { name: "adenocarcinoma: ۱۴۶" })).toBeInTheDocument();
  });
});

describe("the forest plot", () => {
  it("marks the reference and the groups whose ratio cannot be estimated", () => {
    render(
      <I18nProvider initialLang="en">
        <ForestPlot
          title="HR"
          svgRef={createRef()}
          rows={[
            { label: "IIA", n: 15, hazard_ratio: 1, lower: null, upper: null, reference: true },
            { label: "IIIB", n: 39, hazard_ratio: 2.5, lower: 1.2, upper: 5.1, reference: false },
            { label: "0", n: 2, hazard_ratio: null, lower: null, upper: null, reference: false },
          ]}
        />
      </I18nProvider>,
    );
    const rows = screen.getAllByTestId("forest-row").map((r) => r.textContent);
    expect(rows).toEqual(["IIA (15)reference", "IIIB (39)2.50 (1.20–5.10)", "0 (2)not estimable"]);
  });
});
