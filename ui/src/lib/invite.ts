// Invitation links (`{base}/#invite=<token>`): found in the address bar, in pasted text or in a
// scanned QR code, and handed whole to `link_invite` (the app needs the base to reach the sandbox).

/** The token of an invitation link in any text (`#invite=`, `?invite=` or `&invite=`), else null. */
export function inviteTokenOf(text: string): string | null {
  const m = /[#?&]invite=([A-Za-z0-9_~.%-]+)/.exec(text.trim());
  if (!m?.[1]) return null;
  try {
    const token = decodeURIComponent(m[1]);
    return token.length > 0 ? token : null;
  } catch {
    return null;
  }
}

/**
 * The invitation link in pasted or scanned text: the URL holding it (the first word with
 * `invite=`), or null when the text holds none. Surrounding words (an e-mail's sentence) are
 * dropped.
 */
export function inviteLinkOf(text: string): string | null {
  const word = text
    .trim()
    .split(/\s+/)
    .find((w) => inviteTokenOf(w) !== null);
  return word ? word.replace(/^[(<["']+/, '').replace(/[)>\]"'.,;]+$/, '') : null;
}
