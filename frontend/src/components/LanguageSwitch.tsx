import { useI18n } from "../i18n";
import type { Calendar, Lang } from "../i18n";

export function LanguageSwitch() {
  const { lang, setLang, calendar, setCalendar, t } = useI18n();
  return (
    <div className="switches">
      <label htmlFor="lang-select">{t("language")}</label>
      <select id="lang-select" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        <option value="en" lang="en">
          English
        </option>
        <option value="fa" lang="fa">
          فارسی
        </option>
      </select>
      <label htmlFor="calendar-select">{t("calendar")}</label>
      <select id="calendar-select" value={calendar} onChange={(e) => setCalendar(e.target.value as Calendar)}>
        <option value="gregorian">{t("gregorian")}</option>
        <option value="jalali">{t("jalali")}</option>
      </select>
    </div>
  );
}
