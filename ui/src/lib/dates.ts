// Dates and times on screen, in the person's language; a value that is not a date shows as it came.

const formats = new Map<string, Intl.DateTimeFormat>();

/** `Dec 7, 2026, 8:16 AM` (or with seconds for `medium`); '' for none, the text itself if unreadable. */
export function formatWhen(iso: string | null | undefined, locale: string, timeStyle: 'short' | 'medium' = 'short'): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const key = `${locale}|${timeStyle}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle });
    formats.set(key, format);
  }
  return format.format(d);
}
