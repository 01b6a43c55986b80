// Amount formatting by ISO 4217 exponent, on digits (never floats), and top-up input checks.
import { describe, expect, it } from 'vitest';
import { formatDelta, formatMoney, parseAmountInput } from './money';

describe('formatMoney', () => {
  it('puts the decimal point by the currency exponent: JPY 0, USD 2, KWD 3', () => {
    expect(formatMoney({ currency: 'JPY', value: '50000', exponent: 0 })).toBe('50,000 JPY');
    expect(formatMoney({ currency: 'USD', value: '123456', exponent: 2 })).toBe('1,234.56 USD');
    expect(formatMoney({ currency: 'KWD', value: '1234', exponent: 3 })).toBe('1.234 KWD');
  });

  it('pads small values with leading zeros', () => {
    expect(formatMoney({ currency: 'USD', value: '5', exponent: 2 })).toBe('0.05 USD');
    expect(formatMoney({ currency: 'KWD', value: '7', exponent: 3 })).toBe('0.007 KWD');
    expect(formatMoney({ currency: 'USD', value: '0', exponent: 2 })).toBe('0.00 USD');
  });

  it('shows negative amounts with a minus sign and never "-0"', () => {
    expect(formatMoney({ currency: 'USD', value: '-1250', exponent: 2 })).toBe('-12.50 USD');
    expect(formatMoney({ currency: 'KWD', value: '-5', exponent: 3 })).toBe('-0.005 KWD');
    expect(formatMoney({ currency: 'USD', value: '-0', exponent: 2 })).toBe('0.00 USD');
  });

  it('keeps huge values exact (beyond 2^53, up to and past i64)', () => {
    expect(formatMoney({ currency: 'USD', value: '9223372036854775807', exponent: 2 })).toBe(
      '92,233,720,368,547,758.07 USD',
    );
    expect(formatMoney({ currency: 'JPY', value: '-9223372036854775808', exponent: 0 })).toBe(
      '-9,223,372,036,854,775,808 JPY',
    );
    expect(formatMoney({ currency: 'USD', value: '900719925474099312', exponent: 2 })).toBe(
      '9,007,199,254,740,993.12 USD',
    );
  });

  it('shows IDR as whole rupiah when the minor units end in 00, and exactly otherwise', () => {
    expect(formatMoney({ currency: 'IDR', value: '1500000', exponent: 2 })).toBe('15,000 IDR');
    expect(formatMoney({ currency: 'IDR', value: '150050', exponent: 2 })).toBe('1,500.50 IDR');
  });

  it('groups digits per locale', () => {
    expect(formatMoney({ currency: 'USD', value: '123456789', exponent: 2 }, 'zh-CN')).toBe('1,234,567.89 USD');
  });

  it('shows a malformed value as is instead of NaN', () => {
    expect(formatMoney({ currency: 'USD', value: '12.5', exponent: 2 })).toBe('12.5 USD');
    expect(formatMoney({ currency: 'USD', value: '', exponent: 2 })).toBe(' USD');
  });

  it('formatDelta marks credits with + and leaves debits and zero alone', () => {
    expect(formatDelta({ currency: 'USD', value: '1000', exponent: 2 })).toBe('+10.00 USD');
    expect(formatDelta({ currency: 'USD', value: '-1000', exponent: 2 })).toBe('-10.00 USD');
    expect(formatDelta({ currency: 'USD', value: '0', exponent: 2 })).toBe('0.00 USD');
  });
});

describe('parseAmountInput', () => {
  it('pads to the exponent and appends the currency', () => {
    expect(parseAmountInput('12.5', 'USD', 2)).toEqual({ ok: true, text: '12.50 USD' });
    expect(parseAmountInput(' 100 ', 'USD', 2)).toEqual({ ok: true, text: '100.00 USD' });
    expect(parseAmountInput('1000', 'JPY', 0)).toEqual({ ok: true, text: '1000 JPY' });
    expect(parseAmountInput('0,125', 'KWD', 3)).toEqual({ ok: true, text: '0.125 KWD' });
    expect(parseAmountInput('007', 'USD', 2)).toEqual({ ok: true, text: '7.00 USD' });
  });

  it('says what is wrong: empty, shape, too many decimals, zero', () => {
    expect(parseAmountInput('', 'USD', 2)).toEqual({ ok: false, reason: 'empty' });
    expect(parseAmountInput('1,234.56', 'USD', 2)).toEqual({ ok: false, reason: 'shape' });
    expect(parseAmountInput('-5', 'USD', 2)).toEqual({ ok: false, reason: 'shape' });
    expect(parseAmountInput('1e3', 'USD', 2)).toEqual({ ok: false, reason: 'shape' });
    expect(parseAmountInput('12.345', 'USD', 2)).toEqual({ ok: false, reason: 'decimals' });
    expect(parseAmountInput('1.5', 'JPY', 0)).toEqual({ ok: false, reason: 'decimals' });
    expect(parseAmountInput('0.00', 'USD', 2)).toEqual({ ok: false, reason: 'zero' });
  });
});
