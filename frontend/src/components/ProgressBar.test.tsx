import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { I18nProvider } from "../i18n";
import type { Lang } from "../i18n";
import { ProgressBar } from "./ProgressBar";

const renderBar = (value: number, lang: Lang = "en", status?: string) =>
  render(
    <I18nProvider initialLang={lang}>
      <ProgressBar value={value} label="Progress" status={status} />
    </I18nProvider>,
  );

describe("ProgressBar", () => {
  it("exposes its value to assistive technology", () => {
    renderBar(0.42, "en", "running");
    const bar = screen.getByRole("progressbar", { name: "Progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "42");
    expect(bar).toHaveAttribute("aria-valuemax", "100");
    expect(screen.getByTestId("progress-text")).toHaveTextContent("42% · Status: running");
  });

  it("clamps values outside 0..1", () => {
    renderBar(1.7);
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  });

  it("writes the percentage with Persian digits in Persian", () => {
    renderBar(0.5, "fa");
    expect(screen.getByTestId("progress-text").textContent).toMatch(/۵۰/);
  });
});
