// Amounts on screen. A `Money` carries integer minor units as a string plus the ISO 4217 exponent;
// formatting works on the digits (BigInt), never on floats, so 92233720368547758.07 stays exact.

import type { Money } from './types';

/** Minor-unit exponents of the currencies a buyer is likely to hold, for the top-up form. */
const KNOWN_EXPONENTS: Record<string, number> = {
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  USD: 2,
  HKD: 2,
  CNY: 2,
  EUR: 2,
  GBP: 2,
  SGD: 2,
  MYR: 2,
  PHP: 2,
  THB: 2,
  IDR: 2,
  KWD: 3,
  BHD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
};

/** The exponent of a currency code if the UI knows it, else undefined. */
export function exponentOf(currency: string): number | undefined {
  return KNOWN_EXPONENTS[currency];
}

/** Locale-aware digit grouping of a non-negative integer given as decimal digits. */
function groupDigits(digits: string, locale: string): string {
  return new Intl.NumberFormat(locale, { useGrouping: true }).format(BigInt(digits));
}

/**
 * Formats an amount for people: `1,234.56 USD`, `1,000 JPY`, `-0.005 KWD`. IDR is whole rupiah on
 * the Alipay+ wire (minor units always end in 00), so it is shown without decimals when exact.
 * A value that is not an integer string is shown as is with its currency, never as NaN.
 */
export function formatMoney(money: Money, locale = 'en'): string {
  const { currency, value } = money;
  const match = /^(-?)(\d+)$/.exec(value);
  if (!match) return `${value} ${currency}`;
  const negative = match[1] === '-';
  const digits = (match[2] ?? '0').replace(/^0+(?=\d)/, '');
  let exponent = Number.isInteger(money.exponent) && money.exponent >= 0 ? money.exponent : 0;
  let minor = digits;
  if (currency === 'IDR' && exponent === 2 && minor.endsWith('00')) {
    minor = minor.length > 2 ? minor.slice(0, -2) : '0';
    exponent = 0;
  }
  const padded = minor.padStart(exponent + 1, '0');
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  const decimal = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === 'decimal');
  const number =
    groupDigits(whole, locale) + (exponent > 0 ? `${decimal?.value ?? '.'}${fraction}` : '');
  const isZero = /^0+$/.test(digits);
  return `${negative && !isZero ? '-' : ''}${number} ${currency}`;
}

/** Like `formatMoney`, with an explicit `+` on positive amounts (ledger deltas). */
export function formatDelta(money: Money, locale = 'en'): string {
  const text = formatMoney(money, locale);
  return /^\d/.test(text) && !/^0+$/.test(money.value) ? `+${text}` : text;
}

/** Why a typed top-up amount is not acceptable, or the contract's text form `"12.50 USD"`. */
export type AmountInput = { ok: true; text: string } | { ok: false; reason: 'empty' | 'shape' | 'decimals' | 'zero' };

/**
 * Checks what a person typed for `currency` with `exponent` decimals: digits, one optional `.`
 * (a `,` decimal is accepted too, as phones in many locales offer only that), no more decimals
 * than the currency has, more than zero. The server checks again; this gives a quicker, clearer
 * message.
 */
export function parseAmountInput(input: string, currency: string, exponent: number): AmountInput {
  const trimmed = input.trim().replace(',', '.');
  if (trimmed === '') return { ok: false, reason: 'empty' };
  const match = /^(\d+)(?:\.(\d+))?$/.exec(trimmed);
  if (!match) return { ok: false, reason: 'shape' };
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return { ok: false, reason: 'decimals' };
  if (/^[0.]+$/.test(trimmed)) return { ok: false, reason: 'zero' };
  const whole = (match[1] ?? '0').replace(/^0+(?=\d)/, '');
  const text = exponent > 0 ? `${whole}.${fraction.padEnd(exponent, '0')}` : whole;
  return { ok: true, text: `${text} ${currency}` };
}
