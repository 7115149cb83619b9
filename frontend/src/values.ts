import type { Lang } from "./format";
import { persianDigits } from "./format";

// Data values (codes and statuses as the API gives them) as a Persian reader reads them.
// Clinical stage codes (T3, N1, IVB) keep their international notation, in Persian digits.

const FA: Record<string, string> = {
  // job and run statuses
  queued: "در صف",
  pending: "در انتظار",
  running: "در حال اجرا",
  training: "در حال آموزش",
  succeeded: "موفق",
  failed: "ناموفق",
  cancelled: "لغوشده",
  dead: "فوت‌شده",
  finished: "پایان‌یافته",
  // model stages
  production: "در تولید",
  staging: "آزمایشی",
  archived: "بایگانی",
  candidate: "نامزد",
  // sex, vital status, origin
  female: "زن",
  male: "مرد",
  other: "دیگر",
  alive: "زنده",
  deceased: "فوت‌شده",
  unknown: "نامعلوم",
  real: "واقعی",
  synthetic: "مصنوعی",
  // histology and location
  squamous_cell_carcinoma: "کارسینوم سلول سنگفرشی",
  adenocarcinoma: "آدنوکارسینوم",
  upper: "یک‌سوم فوقانی",
  middle: "یک‌سوم میانی",
  lower: "یک‌سوم تحتانی",
  cervical: "گردنی",
  egj: "محل اتصال مری و معده",
  // treatments
  surgery: "جراحی",
  radiotherapy: "پرتودرمانی",
  systemic: "درمان سیستمیک",
  endoscopic_resection: "برداشت آندوسکوپیک",
  neoadjuvant: "نئوادجوانت",
  adjuvant: "ادجوانت",
  perioperative: "پیرامون جراحی",
  definitive: "قطعی",
  palliative: "تسکینی",
  // models and sources
  cox: "کاکس",
  deepsurv: "دیپ‌سرو",
  logistic_hazard: "خطر لجستیک",
  pcr: "پاسخ کامل پاتولوژیک",
  dataset: "مجموعه‌داده",
  database: "پایگاه‌داده",
  upload: "بارگذاری",
  success: "موفق",
  failure: "ناموفق",
  denied: "ردشده",
  registered: "ثبت‌شده",
  // roles
  admin: "مدیر",
  clinician: "پزشک",
  researcher: "پژوهشگر",
  data_steward: "متولی داده",
  auditor: "ممیز",
  survival: "بقا",
  classification: "طبقه‌بندی",
  clinical: "بالینی",
  pathological: "پاتولوژیک",
  post_neoadjuvant: "پس از نئوادجوانت",
};

/** `value` in the reader's language: the Persian name where there is one, else the code in
 * Persian digits; English readers get the code with spaces for underscores. */
export function dataValue(value: string | number | null | undefined, lang: Lang): string {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  if (lang !== "fa") return text.replace(/_/g, " ");
  return FA[text] ?? FA[text.toLowerCase()] ?? persianDigits(text);
}
