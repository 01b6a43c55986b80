// The current language and `t()`. Reading `t()` in a component subscribes it to language changes
// (the language is rune state), so switching in Settings re-renders every string at once. The
// dashboard's own strings are a second catalogue it adds at start (`addCatalogue`), so the
// companion's bundle does not carry them.
import type { DashKey } from '../../dashboard/i18n/en';
import { en, type Key as CompanionKey } from './en';
import { zhCN } from './zh-CN';

/** A key of the companion's catalogue or of the dashboard's. */
export type Key = CompanionKey | DashKey;
export type Lang = 'en' | 'zh-CN';
export const LANGS: Lang[] = ['en', 'zh-CN'];

const catalogues: Record<Lang, Partial<Record<Key, string>>> = { en: { ...en }, 'zh-CN': { ...zhCN } };

/** Adds strings (the dashboard's) to each language's catalogue. */
export function addCatalogue(extra: Record<Lang, Partial<Record<Key, string>>>): void {
  for (const l of LANGS) Object.assign(catalogues[l], extra[l]);
}
const STORAGE_KEY = 'plusbox.lang';

function initialLang(): Lang {
  if (typeof localStorage !== 'undefined') {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  }
  if (typeof navigator !== 'undefined' && /^zh\b(?!-(TW|HK|MO|Hant))/i.test(navigator.language)) {
    return 'zh-CN';
  }
  return 'en';
}

const state = $state<{ lang: Lang }>({ lang: initialLang() });

/** The language in use. */
export function lang(): Lang {
  return state.lang;
}

/** Switches language, remembers it on this device and tells assistive tech via `<html lang>`. */
export function setLang(next: Lang): void {
  state.lang = next;
  if (typeof localStorage !== 'undefined') localStorage.setItem(STORAGE_KEY, next);
  if (typeof document !== 'undefined') document.documentElement.lang = next;
}

/** Fills `{name}` parameters of a catalogue string. */
export function fill(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The string for `key` in the current language (the key itself if no catalogue has it). */
export function t(key: Key, params?: Record<string, string | number>): string {
  return fill(catalogues[state.lang][key] ?? catalogues.en[key] ?? key, params);
}
