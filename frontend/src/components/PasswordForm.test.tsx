import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import type { Lang } from "../i18n";
import { PasswordForm } from "./PasswordForm";

const renderForm = (onChange: (c: string, n: string) => Promise<void>, forced = false, lang: Lang = "en") =>
  render(
    <I18nProvider initialLang={lang}>
      <PasswordForm onChange={onChange} forced={forced} />
    </I18nProvider>,
  );

const fill = (current: string, next: string, again: string) => {
  fireEvent.change(screen.getByLabelText("Current password"), { target: { value: current } });
  fireEvent.change(screen.getByLabelText("New password"), { target: { value: next } });
  fireEvent.change(screen.getByLabelText("New password again"), { target: { value: again } });
  fireEvent.click(screen.getByRole("button", { name: "Change password" }));
};

describe("PasswordForm", () => {
  it("sends the current and the new password and says every other session ended", async () => {
    const onChange = vi.fn().mockResolvedValue(undefined);
    renderForm(onChange);
    fill("old one-time pw", "a long new passphrase", "a long new passphrase");
    await waitFor(() => expect(onChange).toHaveBeenCalledWith("old one-time pw", "a long new passphrase"));
    expect(await screen.findByRole("status")).toHaveTextContent("Every other session");
    expect(screen.getByLabelText("Current password")).toHaveValue("");
  });

  it("refuses two different new passwords without asking the platform", async () => {
    const onChange = vi.fn().mockResolvedValue(undefined);
    renderForm(onChange);
    fill("old one-time pw", "a long new passphrase", "a long new passphrasE");
    expect(await screen.findByRole("alert")).toHaveTextContent("the two new passwords differ");
    expect(onChange).not.toHaveBeenCalled();
  });

  it("shows the platform's refusal and can be sent again", async () => {
    renderForm(vi.fn().mockRejectedValue(new Error("The current password is wrong; the password was not changed.")));
    fill("a wrong guess", "a long new passphrase", "a long new passphrase");
    expect(await screen.findByRole("alert")).toHaveTextContent("Password not changed: The current password is wrong");
    expect(screen.queryByRole("status")).toBeNull();
    expect(screen.getByRole("button", { name: "Change password" })).toBeEnabled();
  });

  it("says why when the password is one-time, in Persian too", () => {
    renderForm(vi.fn(), true, "fa");
    expect(screen.getByTestId("password-one-time")).toHaveTextContent("یک‌بارمصرف");
    expect(screen.getByRole("heading")).toHaveTextContent("تغییر گذرواژه");
  });
});
