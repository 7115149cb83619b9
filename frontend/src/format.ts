import { toJalali } from "./jalali";

export type Lang = "en" | "fa";
export type Calendar = "gregorian" | "jalali";

const FA_DIGITS = "۰۱۲۳۴۵۶۷۸۹";

/** Western digits in `text` written as Persian digits. */
export function persianDigits(text: string): string {
  return text.replace(/[0-9]/g, (d) => FA_DIGITS[Number(d)]);
}

export function localDigits(text: string, lang: Lang): string {
  return lang === "fa" ? persianDigits(text) : text;
}

export function formatNumber(
  value: number | null | undefined,
  lang: Lang,
  options: Intl.NumberFormatOptions = {},
): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(lang === "fa" ? "fa-IR" : "en-US", options).format(value);
}

export function formatPercent(value: number | null | undefined, lang: Lang, digits = 0): string {
  return formatNumber(value, lang, {
    style: "percent",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** A date (`YYYY-MM-DD` or an ISO timestamp) as the user reads dates. */
export function formatDate(
  value: string | null | undefined,
  lang: Lang,
  calendar: Calendar,
): string {
  if (!value) return "—";
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(value);
  if (!match) return value;
  const [gy, gm, gd] = [Number(match[1]), Number(match[2]), Number(match[3])];
  let text = `${match[1]}-${match[2]}-${match[3]}`;
  if (calendar === "jalali") {
    const { jy, jm, jd } = toJalali(gy, gm, gd);
    text = `${jy}/${pad(jm)}/${pad(jd)}`;
  }
  if (match[4]) text += ` ${match[4]}:${match[5]}`;
  return localDigits(text, lang);
}

/** A Gregorian year as the user reads years: in the Jalali calendar a Gregorian year spans two
 * Solar Hijri years (1 January falls in the year before Nowruz), so both are shown. */
export function formatYear(year: number | null | undefined, lang: Lang, calendar: Calendar): string {
  if (year === null || year === undefined) return "—";
  if (calendar !== "jalali") return localDigits(String(year), lang);
  return localDigits(`${year - 622}–${year - 621}`, lang);
}
