import { fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { I18nProvider, useI18n } from "../i18n";
import { LanguageSwitch } from "./LanguageSwitch";

function Probe() {
  const { t, date } = useI18n();
  return (
    <p>
      <span data-testid="title">{t("navPatients")}</span> <span data-testid="date">{date("2024-03-20")}</span>
    </p>
  );
}

const renderSwitch = () =>
  render(
    <I18nProvider>
      <LanguageSwitch />
      <Probe />
    </I18nProvider>,
  );

afterEach(() => {
  document.documentElement.lang = "en";
  document.documentElement.dir = "ltr";
});

describe("LanguageSwitch", () => {
  it("starts in English, left to right", () => {
    renderSwitch();
    expect(document.documentElement.dir).toBe("ltr");
    expect(document.documentElement.lang).toBe("en");
    expect(screen.getByTestId("title")).toHaveTextContent("Patients");
  });

  it("switches to Persian: rtl, lang=fa, translated labels and Persian digits", () => {
    renderSwitch();
    fireEvent.change(screen.getByLabelText("Language"), { target: { value: "fa" } });
    expect(document.documentElement.dir).toBe("rtl");
    expect(document.documentElement.lang).toBe("fa");
    expect(screen.getByTestId("title")).toHaveTextContent("بیماران");
    expect(screen.getByTestId("date")).toHaveTextContent("۲۰۲۴-۰۳-۲۰");
    expect(window.localStorage.getItem("inescape.lang")).toBe("fa");
  });

  it("shows Jalali dates when that calendar is chosen", () => {
    renderSwitch();
    fireEvent.change(screen.getByLabelText("Language"), { target: { value: "fa" } });
    fireEvent.change(screen.getByLabelText("تقویم"), { target: { value: "jalali" } });
    expect(screen.getByTestId("date")).toHaveTextContent("۱۴۰۳/۰۱/۰۱");
  });
});
