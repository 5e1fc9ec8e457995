// CSV for the console's export. Pure (no DOM): tests/unit/api/test_console_js.py (node) and the
// browser test import it as it is.
//
// RFC 4180 quoting (a field with a comma, quote or line break is quoted, quotes doubled), CRLF
// line ends, and a UTF-8 byte-order mark so that Excel reads the Arabic as UTF-8. A cell that
// a spreadsheet would take for a formula (it starts with = + - @, or a tab or carriage return
// that hides one) gets a leading ' : a headline such as «=HYPERLINK(…)» is shown, never run.

const FORMULA = /^[=+\-@\t\r]/;

export function csvCell(value) {
  let s = String(value == null ? "" : value);
  if (FORMULA.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function csvText(rows) {
  return "\ufeff" + rows.map(r => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
