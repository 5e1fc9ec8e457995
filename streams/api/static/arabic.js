// Arabic text for the console: dates, counts with their dual and plural forms, severities,
// search folding, and the one check every link goes through. Pure (no DOM): the browser test
// and tests/unit/api/test_console_js.py (node) import it as it is.

export const LOCALE = "ar";
// Western digits, as the outlets' own sites print them; fixed so that every browser shows
// the same digits whatever its CLDR version defaults to for "ar".
const NUMBERS = "latn";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];
export const SEVERITY = {
  info: "معلومة", low: "منخفضة", medium: "متوسطة", high: "عالية", critical: "حرجة",
};
export const STATUS = { new: "جديدة", updated: "محدَّثة", escalated: "مصعَّدة" };

export function severityRank(severity) {
  const i = SEVERITIES.indexOf(severity);
  return i < 0 ? 0 : i;
}

const numbers = new Intl.NumberFormat(LOCALE, { numberingSystem: NUMBERS });
const rules = new Intl.PluralRules(LOCALE);

export function number(n) {
  return numbers.format(n);
}

// Arabic counts: 0 zero, 1 one, 2 two (the dual), 3–10 few, 11–99 many, 100+ other.
export const COUNTS = {
  sources: {
    zero: "لا مصادر", one: "مصدر واحد", two: "مصدران",
    few: "{n} مصادر", many: "{n} مصدرًا", other: "{n} مصدر",
  },
  articles: {
    zero: "لا مقالات", one: "مقال واحد", two: "مقالان",
    few: "{n} مقالات", many: "{n} مقالًا", other: "{n} مقال",
  },
  stories: {
    zero: "لا قصص", one: "قصة واحدة", two: "قصتان",
    few: "{n} قصص", many: "{n} قصة", other: "{n} قصة",
  },
  alerts: {
    zero: "لا تنبيهات", one: "تنبيه واحد", two: "تنبيهان",
    few: "{n} تنبيهات", many: "{n} تنبيهًا", other: "{n} تنبيه",
  },
  unread: {
    zero: "لا جديد", one: "قصة غير مقروءة", two: "قصتان غير مقروءتين",
    few: "{n} قصص غير مقروءة", many: "{n} قصة غير مقروءة", other: "{n} قصة غير مقروءة",
  },
  outside: {
    zero: "", one: "موضع واحد خارج الخريطة", two: "موضعان خارج الخريطة",
    few: "{n} مواضع خارج الخريطة", many: "{n} موضعًا خارج الخريطة", other: "{n} موضع خارج الخريطة",
  },
};

export function plural(n, forms) {
  const form = forms[rules.select(n)] ?? forms.other;
  return form.replace("{n}", number(n));
}

const formats = new Map();
function dateFormat(options, timeZone) {
  const key = JSON.stringify(options) + "|" + (timeZone || "");
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(LOCALE, {
      ...options, numberingSystem: NUMBERS, ...(timeZone ? { timeZone } : {}),
    });
    formats.set(key, f);
  }
  return f;
}

function valid(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

// «14 مارس في 12:05 م» (the year only when it is not this year), in the viewer's time zone
// unless one is given. The words stay in Arabic order: never shown with direction:ltr.
export function dateTime(iso, { timeZone, now = new Date() } = {}) {
  const d = valid(iso);
  if (!d) return "";
  const sameYear = dateFormat({ year: "numeric" }, timeZone).format(d)
    === dateFormat({ year: "numeric" }, timeZone).format(now);
  const options = { day: "numeric", month: "long", hour: "numeric", minute: "2-digit" };
  if (!sameYear) options.year = "numeric";
  return dateFormat(options, timeZone).format(d);
}

export function fullDateTime(iso, { timeZone } = {}) {
  const d = valid(iso);
  if (!d) return "";
  return dateFormat({
    weekday: "long", day: "numeric", month: "long", year: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short",
  }, timeZone).format(d);
}

export function hourLabel(ms, { timeZone, withDay = false } = {}) {
  const options = withDay
    ? { day: "numeric", month: "long", hour: "numeric" }
    : { hour: "numeric" };
  return dateFormat(options, timeZone).format(new Date(ms));
}

export function dayLabel(ms, { timeZone } = {}) {
  return dateFormat({ weekday: "short", day: "numeric" }, timeZone).format(new Date(ms));
}

const relative = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto", numberingSystem: NUMBERS });

// «قبل دقيقتين», «قبل 5 ساعات», «أمس».
export function ago(iso, now = Date.now()) {
  const d = valid(iso);
  if (!d) return "";
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "الآن";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

// Links: http and https only. A `javascript:`, `data:` or relative URL from an article is
// shown as text, never as a link (the URL parser also undoes tricks such as leading spaces,
// tabs inside the scheme, or upper case).
export function safeHref(url) {
  if (typeof url !== "string" || !url || url.length > 4096) return null;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  return parsed.href;
}

// Search folding, as the API's (streams/text/arabic.py `normalize`) for what a search meets:
// diacritics, tatweel and bidi marks dropped, hamza forms of alef, alef maqsura, ta marbuta and
// the Persian letters folded, Arabic-Indic digits made ASCII, Latin lower-cased, runs of spaces
// made one — «الأمن» finds «الامن», «أمنيّة» finds «امنيه».
const FOLD = {
  "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و", "ئ": "ي", "ى": "ي", "ی": "ي",
  "ة": "ه", "ە": "ه", "ھ": "ه", "ۀ": "ه", "ک": "ك", "گ": "ك",
};
export function fold(text) {
  return String(text || "")
    .normalize("NFKC")
    .replace(/[\u064B-\u065F\u0670\u0640\u200B-\u200F\u202A-\u202E\u2066-\u2069\u061C\uFEFF\u00AD]/g, "")
    .replace(/[أإآٱؤئىیةەھۀکگ]/g, c => FOLD[c])
    .replace(/[\u0660-\u0669]/g, c => String(c.charCodeAt(0) - 0x0660))
    .replace(/[\u06F0-\u06F9]/g, c => String(c.charCodeAt(0) - 0x06F0))
    .toLowerCase()
    .replace(/\s+/g, " ");
}
