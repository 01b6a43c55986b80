// Error codes and server codes in words.
import { describe, expect, it } from 'vitest';
import { setLang } from './i18n/index.svelte';
import { describeError, needsPairing, scenarioSummary, stateLabel } from './labels';
import { CommandError } from './transport';

describe('labels', () => {
  it('maps every contract error code to cashier words in both languages, unknown codes to the message', () => {
    setLang('en');
    expect(describeError(new CommandError('WRONG_PIN', 'pin mismatch')).text).toBe('Wrong PIN. The payment was refused.');
    expect(describeError(new CommandError('SOMETHING_NEW', 'the server says so')).text).toBe('the server says so');
    expect(describeError(new CommandError('WRONG_PIN', 'pin mismatch')).technical).toContain('WRONG_PIN');
    setLang('zh-CN');
    expect(describeError(new CommandError('WRONG_PIN', 'x')).text).toBe('密码错误，付款被拒绝。');
    setLang('en');
  });

  it('sends NOT_PAIRED and DEVICE_REVOKED back to pairing, nothing else', () => {
    expect(needsPairing(new CommandError('NOT_PAIRED', ''))).toBe(true);
    expect(needsPairing(new CommandError('DEVICE_REVOKED', ''))).toBe(true);
    expect(needsPairing(new CommandError('WRONG_PIN', ''))).toBe(false);
    expect(needsPairing(new Error('x'))).toBe(false);
  });

  it('explains parameterised and unknown scenarios', () => {
    expect(scenarioSummary('slow:9', '')).toContain('9 s');
    expect(scenarioSummary('brand-new', 'server summary')).toBe('server summary');
  });

  it('gives every state a word and an icon, so it reads without colour', () => {
    for (const s of ['SUCCESS', 'FAIL', 'PROCESSING', 'CLOSED', 'CANCELLED', 'weird']) {
      const label = stateLabel(s);
      expect(label.text.length).toBeGreaterThan(0);
      expect(label.icon.length).toBeGreaterThan(0);
    }
  });
});
