// Reading and writing dates with a strftime-style format in the browser, for the
// column editor's preview. The server (Python's strptime) decides; formats using
// a directive this does not know are previewed as "cannot preview".

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const pad = (number, width = 2) => String(number).padStart(width, "0");

// directive -> [pattern for reading, field it sets, writer]
const DIRECTIVES = {
  Y: ["(\\d{4})", "year", (d) => pad(d.year, 4)],
  y: ["(\\d{2})", "year2", (d) => pad(d.year % 100)],
  m: ["(\\d{1,2})", "month", (d) => pad(d.month)],
  d: ["(\\d{1,2})", "day", (d) => pad(d.day)],
  H: ["(\\d{1,2})", "hour", (d) => pad(d.hour)],
  I: ["(\\d{1,2})", "hour12", (d) => pad(d.hour % 12 || 12)],
  p: ["(AM|PM|am|pm)", "ampm", (d) => (d.hour < 12 ? "AM" : "PM")],
  M: ["(\\d{1,2})", "minute", (d) => pad(d.minute)],
  S: ["(\\d{1,2})", "second", (d) => pad(d.second)],
  f: ["(\\d{1,6})", "micro", () => "000000"],
  b: [`(${MONTHS.map((m) => m.slice(0, 3)).join("|")})`, "monthName", (d) => MONTHS[d.month - 1].slice(0, 3)],
  B: [`(${MONTHS.join("|")})`, "monthName", (d) => MONTHS[d.month - 1]],
  a: [`(${DAYS.map((m) => m.slice(0, 3)).join("|")})`, "weekday", (d) => DAYS[d.weekday].slice(0, 3)],
  A: [`(${DAYS.join("|")})`, "weekday", (d) => DAYS[d.weekday]],
  "%": ["%", null, () => "%"],
};

function tokens(format) {
  const parts = [];
  for (let i = 0; i < format.length; i += 1) {
    if (format[i] === "%" && i + 1 < format.length) {
      const directive = DIRECTIVES[format[i + 1]];
      if (!directive) return null;
      parts.push({ directive: format[i + 1] });
      i += 1;
    } else {
      parts.push({ text: format[i] });
    }
  }
  return parts;
}

/** The sample moment written with `format`, or null when a directive is unknown here. */
export function formatSample(format) {
  const parts = tokens(format);
  if (!parts) return null;
  const sample = { year: 2024, month: 1, day: 31, hour: 13, minute: 45, second: 0, weekday: 2 };
  return parts.map((part) => (part.text !== undefined ? part.text : DIRECTIVES[part.directive][2](sample))).join("");
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `text` read with `format`: an ISO-like string, "" when it does not fit, null when unknown here. */
export function readDate(text, format) {
  const parts = tokens(format);
  if (!parts) return null;
  const fields = [];
  const source = parts
    .map((part) => {
      if (part.text !== undefined) return /\s/.test(part.text) ? "\\s+" : escape(part.text);
      const [pattern, field] = DIRECTIVES[part.directive];
      if (field) fields.push(field);
      return pattern;
    })
    .join("");
  const found = new RegExp(`^${source}$`).exec(text.trim());
  if (!found) return "";
  const value = { year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  fields.forEach((field, index) => {
    const raw = found[index + 1];
    if (field === "year2") value.year = Number(raw) + (Number(raw) < 69 ? 2000 : 1900);
    else if (field === "monthName") value.month = MONTHS.findIndex((m) => m.startsWith(raw.slice(0, 3))) + 1;
    else if (field === "hour12") value.hour = Number(raw) % 12 + (value.hour >= 12 ? 12 : 0);
    else if (field === "ampm") value.hour = (value.hour % 12) + (raw.toUpperCase() === "PM" ? 12 : 0);
    else if (field !== "weekday" && field !== "micro") value[field] = Number(raw);
  });
  const moment = new Date(Date.UTC(value.year, value.month - 1, value.day, value.hour, value.minute, value.second));
  const valid =
    moment.getUTCFullYear() === value.year && moment.getUTCMonth() === value.month - 1 && moment.getUTCDate() === value.day &&
    value.hour < 24 && value.minute < 60 && value.second < 62;
  if (!valid) return "";
  return `${pad(value.year, 4)}-${pad(value.month)}-${pad(value.day)}T${pad(value.hour)}:${pad(value.minute)}:${pad(value.second)}`;
}
