// The accounts a device works with: an invited merchant's phone sees its own buyer only.
import { describe, expect, it } from 'vitest';
import { usable } from './accounts';
import type { Account } from './types';

const account = (id: string): Account => ({ id, name: id, scenario: 'success', balances: [] });
const ALL = [account('buyer-1'), account('buyer-2'), account('inv_ABC-buyer')];

describe('usable accounts', () => {
  it('are all accounts without an invitation', () => {
    expect(usable(ALL, null).map((a) => a.id)).toEqual(['buyer-1', 'buyer-2', 'inv_ABC-buyer']);
    expect(usable(ALL, []).map((a) => a.id)).toEqual(['buyer-1', 'buyer-2', 'inv_ABC-buyer']);
  });

  it('are the invitation’s own buyers when linked', () => {
    expect(usable(ALL, ['inv_ABC-buyer']).map((a) => a.id)).toEqual(['inv_ABC-buyer']);
  });

  it('fall back to the list when none of the invitation’s buyers is in it (never an empty wallet)', () => {
    expect(usable(ALL, ['gone']).map((a) => a.id)).toEqual(['buyer-1', 'buyer-2', 'inv_ABC-buyer']);
  });
});
