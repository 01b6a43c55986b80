// Words for the codes the server sends: error codes, scenarios, scanned-code kinds, ledger kinds
// and states. Each map names its catalogue keys literally so the catalogue test sees them used.
import { t, type Key } from './i18n/index.svelte';
import { CommandError } from './transport';
import type { ErrorCode } from './types';

const ERROR_KEYS: Record<ErrorCode, Key> = {
  NOT_PAIRED: 'error.NOT_PAIRED',
  DEVICE_REVOKED: 'error.DEVICE_REVOKED',
  PAIRING_CODE_INVALID: 'error.PAIRING_CODE_INVALID',
  PAIRING_NOT_LOOPBACK: 'error.PAIRING_NOT_LOOPBACK',
  TOO_MANY_ATTEMPTS: 'error.TOO_MANY_ATTEMPTS',
  SANDBOX_UNREACHABLE: 'error.SANDBOX_UNREACHABLE',
  NOT_FOUND: 'error.NOT_FOUND',
  BAD_REQUEST: 'error.BAD_REQUEST',
  BAD_AMOUNT: 'error.BAD_AMOUNT',
  AMOUNT_TOO_LARGE: 'error.AMOUNT_TOO_LARGE',
  UNKNOWN_SCENARIO: 'error.UNKNOWN_SCENARIO',
  INVALID_STATE: 'error.INVALID_STATE',
  WRONG_PIN: 'error.WRONG_PIN',
  ALREADY_DECIDED: 'error.ALREADY_DECIDED',
  PAYMENT_EXPIRED: 'error.PAYMENT_EXPIRED',
  BAD_IMAGE: 'error.BAD_IMAGE',
  IMAGE_TOO_LARGE: 'error.IMAGE_TOO_LARGE',
  ORDER_CODE_INVALID: 'error.ORDER_CODE_INVALID',
  ORDER_CODE_EXPIRED: 'error.ORDER_CODE_EXPIRED',
  ORDER_CLOSED: 'error.ORDER_CLOSED',
  PIN_REQUIRED: 'error.PIN_REQUIRED',
  CASE_NOT_ASSIGNED: 'error.CASE_NOT_ASSIGNED',
  UNKNOWN_CASE: 'error.UNKNOWN_CASE',
  RUN_ACTIVE: 'error.RUN_ACTIVE',
  ACQUIRER_DECLINED_CODE: 'error.ACQUIRER_DECLINED_CODE',
  ACQUIRER_ANSWER_UNSIGNED: 'error.ACQUIRER_ANSWER_UNSIGNED',
  ACQUIRER_ANSWER_BAD_SIGNATURE: 'error.ACQUIRER_ANSWER_BAD_SIGNATURE',
  ACQUIRER_TIMEOUT: 'error.ACQUIRER_TIMEOUT',
  ACQUIRER_ANSWER_INCOMPLETE: 'error.ACQUIRER_ANSWER_INCOMPLETE',
  ACQUIRER_UNREACHABLE: 'error.ACQUIRER_UNREACHABLE',
  INTERNAL: 'error.INTERNAL',
  INVITE_REVOKED: 'error.INVITE_REVOKED',
  INVITE_UNKNOWN: 'error.INVITE_UNKNOWN',
  NOT_IN_SCOPE: 'error.NOT_IN_SCOPE',
  INVALID_ARGUMENT: 'error.INVALID_ARGUMENT',
  SERVER_UNREACHABLE: 'error.SERVER_UNREACHABLE',
  BAD_RESPONSE: 'error.BAD_RESPONSE',
};

/** What to show for a failure: a sentence a cashier understands, and the technical line. */
export interface ShownError {
  code: string;
  text: string;
  technical: string;
}

/** Turns any failure into words; unknown codes show the server's message as is. */
export function describeError(error: unknown): ShownError {
  const e =
    error instanceof CommandError
      ? error
      : new CommandError('INTERNAL', error instanceof Error ? error.message : String(error));
  const key = (ERROR_KEYS as Record<string, Key | undefined>)[e.code];
  return {
    code: e.code,
    text: key ? t(key) : e.message,
    technical: t('error.technical', { code: e.code, message: e.message }),
  };
}

/** Whether an error means this browser must pair (again). */
export function needsPairing(error: unknown): boolean {
  return error instanceof CommandError && (error.code === 'NOT_PAIRED' || error.code === 'DEVICE_REVOKED');
}

const SCENARIO_KEYS: Record<string, Key> = {
  success: 'scenario.success',
  pin: 'scenario.pin',
  'insufficient-balance': 'scenario.insufficientBalance',
  'risk-reject': 'scenario.riskReject',
  'user-not-exist': 'scenario.userNotExist',
  'user-abnormal': 'scenario.userAbnormal',
  'over-limit': 'scenario.overLimit',
  'no-answer': 'scenario.noAnswer',
  'unknown-exception': 'scenario.unknownException',
  stuck: 'scenario.stuck',
};

/** One line on what a wallet scenario does; the server's summary for ones the UI does not know. */
export function scenarioSummary(name: string, serverSummary: string): string {
  const slow = /^slow:(\d+)$/.exec(name);
  if (slow) return t('scenario.slow', { seconds: slow[1] ?? '' });
  const key = SCENARIO_KEYS[name];
  return key ? t(key) : serverSummary;
}

const KIND_KEYS: Record<string, { label: Key; why: Key; icon: string }> = {
  'alipayplus-code': { label: 'scan.kind.alipayplus', why: 'scan.why.alipayplus', icon: '▣' },
  'order-code': { label: 'scan.kind.order', why: 'scan.why.order', icon: '▤' },
  'entry-code': { label: 'scan.kind.entry', why: 'scan.why.entry', icon: '⌂' },
  'private-order-code': { label: 'scan.kind.privateOrder', why: 'scan.why.privateOrder', icon: '▤' },
  emvco: { label: 'scan.kind.emvco', why: 'scan.why.emvco', icon: '▦' },
  'plusbox-pairing': { label: 'scan.kind.pairing', why: 'scan.why.pairing', icon: '⇄' },
  'plusbox-invite': { label: 'scan.kind.invite', why: 'scan.why.pairing', icon: '⇄' },
  'not-a-payment-code': { label: 'scan.kind.notPayment', why: 'scan.why.notPayment', icon: '⚠' },
  binary: { label: 'scan.kind.binary', why: 'scan.why.binary', icon: '⌗' },
};

/** Label, one-line reason and icon for a scanned code's kind. */
export function scannedKind(kind: string): { label: string; why: string; icon: string } {
  const k = KIND_KEYS[kind];
  return k
    ? { label: t(k.label), why: t(k.why), icon: k.icon }
    : { label: t('scan.kind.other'), why: '', icon: '?' };
}

const LEDGER_KIND_KEYS: Record<string, Key> = {
  payment: 'history.kind.payment',
  refund: 'history.kind.refund',
  topup: 'history.kind.topup',
  'top-up': 'history.kind.topup',
  cancel: 'history.kind.cancel',
};

/** A ledger entry's kind in words (the raw kind when unknown). */
export function ledgerKind(kind: string): string {
  const key = LEDGER_KIND_KEYS[kind.toLowerCase()];
  return key ? t(key) : kind;
}

/** The tone of a state, for its icon and colour (the word always goes with it). */
export type Tone = 'good' | 'bad' | 'wait' | 'neutral';

const STATE_KEYS: Record<string, { key: Key; tone: Tone; icon: string }> = {
  success: { key: 'history.state.success', tone: 'good', icon: '✓' },
  succeeded: { key: 'history.state.success', tone: 'good', icon: '✓' },
  s: { key: 'history.state.success', tone: 'good', icon: '✓' },
  fail: { key: 'history.state.fail', tone: 'bad', icon: '✕' },
  failed: { key: 'history.state.fail', tone: 'bad', icon: '✕' },
  f: { key: 'history.state.fail', tone: 'bad', icon: '✕' },
  processing: { key: 'history.state.processing', tone: 'wait', icon: '◔' },
  pending: { key: 'history.state.processing', tone: 'wait', icon: '◔' },
  u: { key: 'history.state.processing', tone: 'wait', icon: '◔' },
  closed: { key: 'history.state.closed', tone: 'neutral', icon: '⊘' },
  cancelled: { key: 'history.state.cancelled', tone: 'neutral', icon: '↺' },
  canceled: { key: 'history.state.cancelled', tone: 'neutral', icon: '↺' },
  refunded: { key: 'history.state.refunded', tone: 'neutral', icon: '↩' },
};

/** A payment/ledger state in words with its tone and icon (raw state when unknown). */
export function stateLabel(state: string): { text: string; tone: Tone; icon: string } {
  const s = STATE_KEYS[state.toLowerCase()];
  return s ? { text: t(s.key), tone: s.tone, icon: s.icon } : { text: state, tone: 'neutral', icon: '•' };
}
