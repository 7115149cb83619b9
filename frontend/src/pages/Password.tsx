import { useAuth } from "../auth";
import { PasswordForm } from "../components/PasswordForm";
import { useRouter } from "../router";

export const PASSWORD_PATH = "/account/password";

/** The own password's change; the first page of an account whose password is one-time. */
export function PasswordPage() {
  const { me, changePassword } = useAuth();
  const { navigate } = useRouter();
  const forced = Boolean(me?.must_change_password);
  const change = async (current: string, next: string) => {
    await changePassword(current, next);
    if (forced) navigate("/"); // the one-time password is gone: on to what the roles allow
  };
  return <PasswordForm forced={forced} onChange={change} />;
}
