import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { formatDate, formatNumber, formatPercent, formatYear, localDigits } from "./format";
import type { Calendar, Lang } from "./format";
import { en, fa } from "./messages";
import type { MessageKey } from "./messages";
import { dataValue } from "./values";

export type { Calendar, Lang };

interface I18n {
  lang: Lang;
  calendar: Calendar;
  setLang: (lang: Lang) => void;
  setCalendar: (calendar: Calendar) => void;
  t: (key: MessageKey) => string;
  num: (value: number | null | undefined, options?: Intl.NumberFormatOptions) => string;
  pct: (value: number | null | undefined, digits?: number) => string;
  date: (value: string | null | undefined) => string;
  digits: (text: string) => string;
  /** A data value (code, status) in the reader's language. */
  v: (value: string | number | null | undefined) => string;
  /** A Gregorian year in the reader's calendar. */
  year: (value: number | null | undefined) => string;
}

const Context = createContext<I18n | null>(null);
const LANG_KEY = "inescape.lang";
const CALENDAR_KEY = "inescape.calendar";

function stored<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  try {
    const value = window.localStorage.getItem(key);
    return allowed.includes(value as T) ? (value as T) : fallback;
  } catch {
    return fallback;
  }
}

function remember(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** Applies the language to <html> so the browser, screen readers and CSS logical properties follow it. */
export function applyDocumentLanguage(lang: Lang): void {
  const root = document.documentElement;
  root.lang = lang;
  root.dir = lang === "fa" ? "rtl" : "ltr";
}

export function I18nProvider({ children, initialLang }: { children: ReactNode; initialLang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => initialLang ?? stored(LANG_KEY, ["en", "fa"], "en"));
  const [calendar, setCalendarState] = useState<Calendar>(() =>
    stored(CALENDAR_KEY, ["gregorian", "jalali"], "gregorian"),
  );

  useEffect(() => {
    applyDocumentLanguage(lang);
    document.title = lang === "fa" ? fa.appName : en.appName;
  }, [lang]);

  const setLang = useCallback((next: Lang) => {
    remember(LANG_KEY, next);
    setLangState(next);
  }, []);
  const setCalendar = useCallback((next: Calendar) => {
    remember(CALENDAR_KEY, next);
    setCalendarState(next);
  }, []);

  const value = useMemo<I18n>(() => {
    const messages = lang === "fa" ? fa : en;
    return {
      lang,
      calendar,
      setLang,
      setCalendar,
      t: (key) => messages[key],
      num: (v, options) => formatNumber(v, lang, options),
      pct: (v, d) => formatPercent(v, lang, d),
      date: (v) => formatDate(v, lang, calendar),
      digits: (text) => localDigits(text, lang),
      v: (value) => dataValue(value, lang),
      year: (value) => formatYear(value, lang, calendar),
    };
  }, [lang, calendar, setLang, setCalendar]);

  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}
