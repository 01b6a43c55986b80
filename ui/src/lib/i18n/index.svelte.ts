// The current language and `t()`. Reading `t()` in a component subscribes it to language changes
// (the language is rune state), so switching in Settings re-renders every string at once.
import { en, type Key } from './en';
import { zhCN } from './zh-CN';

export type { Key } from './en';
export type Lang = 'en' | 'zh-CN';
export const LANGS: Lang[] = ['en', 'zh-CN'];

const catalogues: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zhCN };
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

/** The string for `key` in the current language. */
export function t(key: Key, params?: Record<string, string | number>): string {
  return fill(catalogues[state.lang][key], params);
}
