import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { LoginForm } from "./LoginForm";

const renderForm = (onLogin: (u: string, p: string) => Promise<void>) =>
  render(
    <I18nProvider initialLang="en">
      <LoginForm onLogin={onLogin} />
    </I18nProvider>,
  );

describe("LoginForm", () => {
  it("labels its inputs and sends the username and password", async () => {
    const onLogin = vi.fn().mockResolvedValue(undefined);
    renderForm(onLogin);
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: " alice " } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() => expect(onLogin).toHaveBeenCalledWith("alice", "secret"));
  });

  it("shows the API's refusal as an alert", async () => {
    renderForm(vi.fn().mockRejectedValue(new Error("invalid username or password")));
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "alice" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("invalid username or password");
    expect(screen.getByRole("button", { name: "Log in" })).toBeEnabled();
  });
});
