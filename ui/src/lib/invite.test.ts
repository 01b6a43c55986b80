// Invitation links as a person brings them: the address bar, a pasted e-mail line, a QR's text.
import { describe, expect, it } from 'vitest';
import { inviteLinkOf, inviteTokenOf } from './invite';

describe('invitation links', () => {
  it('finds the token after #invite=, ?invite= or &invite=', () => {
    expect(inviteTokenOf('http://192.168.1.20:8787/#invite=AbC_12-x')).toBe('AbC_12-x');
    expect(inviteTokenOf('https://sb.example/?invite=tok')).toBe('tok');
    expect(inviteTokenOf('https://sb.example/?a=1&invite=tok%2Dz')).toBe('tok-z');
    expect(inviteTokenOf('#invite=tok')).toBe('tok');
  });

  it('a pairing link, an empty token or broken escapes are no invitation', () => {
    expect(inviteTokenOf('http://sb/#pair=tok')).toBeNull();
    expect(inviteTokenOf('http://sb/#invite=')).toBeNull();
    expect(inviteTokenOf('http://sb/#invite=%E0%A4%A')).toBeNull();
    expect(inviteTokenOf('noinvite=tok')).toBeNull();
  });

  it('takes the link out of pasted text, without trailing punctuation', () => {
    expect(inviteLinkOf('Open (http://sb:8787/#invite=tok).')).toBe('http://sb:8787/#invite=tok');
    expect(inviteLinkOf('<https://sb/#invite=a1>')).toBe('https://sb/#invite=a1');
    expect(inviteLinkOf('Open http://sb:8787/#invite=tok. Thanks')).toBe('http://sb:8787/#invite=tok');
    expect(inviteLinkOf('  http://sb:8787/#invite=tok\n')).toBe('http://sb:8787/#invite=tok');
    expect(inviteLinkOf('hello there')).toBeNull();
  });
});
