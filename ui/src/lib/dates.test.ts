// Dates on screen.
import { describe, expect, it } from 'vitest';
import { formatWhen } from './dates';

describe('formatWhen', () => {
  it('formats by language and style, and passes through what is not a date', () => {
    const iso = '2026-12-07T08:16:16Z';
    expect(formatWhen(iso, 'en', 'medium')).toBe(new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso)));
    expect(formatWhen(iso, 'zh-CN')).toBe(new Intl.DateTimeFormat('zh-CN', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso)));
    expect(formatWhen('yesterday', 'en')).toBe('yesterday');
    expect(formatWhen(null, 'en')).toBe('');
    expect(formatWhen(undefined, 'en')).toBe('');
  });
});
