CREATE INDEX outbox_payment ON outbox(payment_row);
CREATE INDEX refund_payment ON refund(payment_row);
CREATE INDEX ledger_account ON ledger(account_id, id);
