// The language catalogues (the companion's and the dashboard's own): the same keys in every
// language, the same {parameters}, nothing empty, every key used somewhere in the source and every
// key the source uses present, and no key in both.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dashEn } from '../../dashboard/i18n/en';
import { dashZhCN } from '../../dashboard/i18n/zh-CN';
import { en as companionEn } from './en';
import { zhCN as companionZhCN } from './zh-CN';

const en: Record<string, string> = { ...companionEn, ...dashEn };
const zhCN: Record<string, string> = { ...companionZhCN, ...dashZhCN };
const catalogues: Record<string, Record<string, string>> = { en, 'zh-CN': zhCN };
const SRC = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'i18n' ? [] : sourceFiles(path);
    return /\.(ts|svelte)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const source = sourceFiles(SRC).map((f) => readFileSync(f, 'utf8')).join('\n');
/** Whether the source holds `key` as a whole quoted string (any quote; apostrophes in comments cannot shift the pairing). */
const quoted = (key: string): boolean => ["'", '"', '`'].some((q) => source.includes(`${q}${key}${q}`));

function params(s: string): string[] {
  return [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();
}

describe('language catalogues', () => {
  it('have exactly the same keys in English and Simplified Chinese', () => {
    expect(Object.keys(companionZhCN).sort()).toEqual(Object.keys(companionEn).sort());
    expect(Object.keys(dashZhCN).sort()).toEqual(Object.keys(dashEn).sort());
  });

  it('the dashboard’s catalogue holds only its own keys, none of the companion’s', () => {
    expect(Object.keys(dashEn).filter((k) => !k.startsWith('dash.') || k in companionEn)).toEqual([]);
    expect(Object.keys(companionEn).filter((k) => k.startsWith('dash.'))).toEqual([]);
  });

  for (const [lang, catalogue] of Object.entries(catalogues)) {
    it(`${lang}: no empty string, the same {parameters} as English`, () => {
      for (const [key, text] of Object.entries(catalogue)) {
        expect(text.trim(), `${lang} ${key}`).not.toBe('');
        expect(params(text), `${lang} ${key}`).toEqual(params((en as Record<string, string>)[key] ?? ''));
      }
    });
  }

  it('Chinese strings are translated (not English copies), apart from names and codes', () => {
    const sameOnPurpose = new Set(['lang.en', 'lang.zhCN', 'settings.clientId', 'settings.plusbox']);
    const copies = Object.keys(en).filter((k) => !sameOnPurpose.has(k) && (zhCN as Record<string, string>)[k] === (en as Record<string, string>)[k]);
    expect(copies).toEqual([]);
  });

  it('every key is used in the source', () => {
    const unused = Object.keys(en).filter((key) => !quoted(key));
    expect(unused).toEqual([]);
  });

  it('every t(...) key in the source exists', () => {
    const used = [...source.matchAll(/\bt\(\s*'([^']+)'/g)].map((m) => m[1] ?? '');
    expect(used.length).toBeGreaterThan(50);
    const missing = used.filter((key) => !(key in en));
    expect(missing).toEqual([]);
  });

  it('the navigation entries are named Wallet, Pay, Scan, History, Tests and Settings in English', () => {
    expect([en['nav.wallet'], en['nav.pay'], en['nav.scan'], en['nav.history'], en['nav.tests'], en['nav.settings']]).toEqual([
      'Wallet',
      'Pay',
      'Scan',
      'History',
      'Tests',
      'Settings',
    ]);
  });
});
