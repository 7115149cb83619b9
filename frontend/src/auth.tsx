import { createContext, useCallback, useContext, useEffect, useState } from "react";
import type { ReactNode } from "react";
import {
  accessToken,
  api,
  changePassword as apiChangePassword,
  login as apiLogin,
  logout as apiLogout,
  onTokensChange,
} from "./api";
import type { Me } from "./types";

interface Session {
  me: Me | null;
  ready: boolean;
  can: (...permissions: string[]) => boolean;
  /** Researchers see de-identified data only; the UI also never asks for identified exports. */
  researcherOnly: boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  /** Changes the own password (this session goes on; every other one ends). */
  changePassword: (current: string, next: string) => Promise<void>;
}

const Context = createContext<Session | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);

  const loadMe = useCallback(async () => {
    if (!accessToken()) {
      setMe(null);
      setReady(true);
      return;
    }
    try {
      setMe(await api<Me>("/api/v1/auth/me"));
    } catch {
      setMe(null);
    } finally {
      setReady(true);
    }
  }, []);

  useEffect(() => {
    void loadMe();
    return onTokensChange(() => {
      if (!accessToken()) setMe(null);
    });
  }, [loadMe]);

  const login = useCallback(
    async (username: string, password: string) => {
      await apiLogin(username, password);
      await loadMe();
    },
    [loadMe],
  );
  const logout = useCallback(async () => {
    await apiLogout();
    setMe(null);
  }, []);
  const changePassword = useCallback(
    async (current: string, next: string) => {
      await apiChangePassword(current, next);
      await loadMe();
    },
    [loadMe],
  );

  const can = (...permissions: string[]) =>
    Boolean(me && permissions.some((p) => me.permissions.includes(p)));
  const researcherOnly = Boolean(me && me.roles.length > 0 && me.roles.every((r) => r === "researcher"));

  return (
    <Context.Provider value={{ me, ready, can, researcherOnly, login, logout, changePassword }}>{children}</Context.Provider>
  );
}

export function useAuth(): Session {
  const value = useContext(Context);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
